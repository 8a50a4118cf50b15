import { ValidationError } from '../../core/errors.js';
import { createResourceBaseline } from '../models/baselines/resource-baselines.js';
import type { FitOptions, ResourceModel, ResourceQuery, SavedModel, TrainingReport } from '../models/model.js';
import { createPooledForecaster, type PooledForecasterOptions } from './pooled-forecaster.js';

/**
 * The median of three forecasts: the pooled quantile regression's and the two decayed-histogram
 * recommenders' (VPA's CPU target and Autopilot's p95). The regression learns its weights on
 * the fitted period; when the regime then shifts (batch VMs that go idle for days, memory that
 * steps), one of the three is usually wrong alone and the median drops it — on the validation
 * folds it forecast the next day better than any of the three (docs/prediction.md). A candidate
 * of its own, so the selection decides per horizon whether the combination wins.
 */
export const pooledMedianId = 'pooled-median';
export const pooledMedianRules = ['vpa-samples', 'autopilot-p95'] as const;
const version = '1';

export function createPooledMedian(overrides: Partial<PooledForecasterOptions> = {}): ResourceModel {
  const pooled = createPooledForecaster(overrides);
  const rules = pooledMedianRules.map((id) => createResourceBaseline(id));
  return {
    id: pooledMedianId,
    version,
    kind: 'resource',
    async fit(data: readonly Float64Array[], fit: FitOptions = {}): Promise<TrainingReport> {
      const report = await pooled.fit(data, fit);
      return { ...report, modelId: pooledMedianId, modelVersion: version, details: { ...report.details, medianWith: pooledMedianRules.join(',') } };
    },
    predict(query: ResourceQuery): Float64Array {
      const [a, b, c] = [pooled.predict(query), ...rules.map((r) => r.predict(query))] as [Float64Array, Float64Array, Float64Array];
      return a.map((x, i) => Math.max(Math.min(x, b[i]!), Math.min(Math.max(x, b[i]!), c[i]!)));
    },
    async save(): Promise<SavedModel> {
      return { id: pooledMedianId, version, state: { pooled: await pooled.save() } };
    },
    async load(saved: SavedModel): Promise<void> {
      if (saved.id !== pooledMedianId || saved.version !== version) throw new ValidationError('model', `not a ${pooledMedianId} v${version} model`);
      const inner = (saved.state as { pooled?: unknown } | undefined)?.pooled;
      if (typeof inner !== 'object' || inner === null) throw new ValidationError('state.pooled', 'the saved pooled forecaster');
      await pooled.load(inner as SavedModel);
    },
  };
}
