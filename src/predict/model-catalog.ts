import { ValidationError } from '../core/errors.js';
import { createResourceBaseline, resourceBaselineIds, type ResourceBaselineId } from './models/baselines/resource-baselines.js';
import { createSequenceBaseline, sequenceBaselineIds, type SequenceBaselineId } from './models/baselines/sequence-baselines.js';
import { createGruNext } from './models/gru-next/gru-next.js';
import { createPooledForecaster, pooledForecasterId } from './forecast/pooled-forecaster.js';
import { createPooledMedian, pooledMedian, pooledMedianFive } from './forecast/pooled-median.js';
import { createLstmQuantile } from './models/lstm-quantile/lstm-quantile.js';
import type { ResourceModel, SavedModel, SequenceModel } from './models/model.js';
import { createNgramMix } from './models/ngram-mix/ngram-mix.js';

/** Every model by id: the one place that knows how to build (and so load) each of them. */
export const resourceModelIds = [...resourceBaselineIds, 'lstm-quantile', pooledForecasterId, pooledMedian.id, pooledMedianFive.id] as const;
/** The resource rules: nothing to fit, every learnt model's rivals. */
export const resourceRuleIds = resourceBaselineIds;
export const sequenceModelIds = [...sequenceBaselineIds, 'ngram-mix'] as const;
/** Sequence models that train a network (minutes, not milliseconds): only with --network. */
export const networkSequenceModelIds = ['gru-ngram'] as const;

export function createResourceModel(id: string): ResourceModel {
  if (id === 'lstm-quantile') return createLstmQuantile();
  if (id === pooledForecasterId) return createPooledForecaster();
  if (id === pooledMedian.id) return createPooledMedian(pooledMedian);
  if (id === pooledMedianFive.id) return createPooledMedian(pooledMedianFive);
  if ((resourceBaselineIds as readonly string[]).includes(id)) return createResourceBaseline(id as ResourceBaselineId);
  throw new ValidationError('model', `unknown resource model ${JSON.stringify(id)}; known: ${resourceModelIds.join(', ')}`);
}

export function createSequenceModel(id: string): SequenceModel {
  if (id === 'ngram-mix') return createNgramMix();
  if (id === 'gru-ngram') return createGruNext();
  if ((sequenceBaselineIds as readonly string[]).includes(id)) return createSequenceBaseline(id as SequenceBaselineId);
  throw new ValidationError('model', `unknown sequence model ${JSON.stringify(id)}; known: ${[...sequenceModelIds, ...networkSequenceModelIds].join(', ')}`);
}

export async function loadResourceModel(saved: SavedModel): Promise<ResourceModel> {
  const m = createResourceModel(saved.id);
  await m.load(saved);
  return m;
}

export async function loadSequenceModel(saved: SavedModel): Promise<SequenceModel> {
  const m = createSequenceModel(saved.id);
  await m.load(saved);
  return m;
}
