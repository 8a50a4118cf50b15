import { ValidationError } from '../../core/errors.js';
import { autopilot, decayedQuantiles } from '../models/baselines/recommenders.js';
import { createResourceBaseline, type ResourceBaselineId } from '../models/baselines/resource-baselines.js';
import type { FitOptions, ResourceModel, ResourceQuery, SavedModel, TrainingReport } from '../models/model.js';
import { createPooledForecaster, type PooledForecasterOptions } from './pooled-forecaster.js';

/** A median of the pooled quantile regression's forecast and an even number of others. */
export interface PooledMedianSpec {
  id: string;
  rules: readonly ResourceBaselineId[];
  /** One more member: Autopilot's decayed histogram (12 h half-life) read at this quantile. */
  decayedQuantile?: number;
}

/**
 * The median of three: the pooled regression and the two decayed-histogram recommenders (VPA's
 * CPU target and Autopilot's p95). The regression learns its weights on the fitted period; when
 * the regime then shifts (batch VMs that go idle for days, memory that steps), one of the three
 * is usually wrong alone and the median drops it — on the validation folds it forecast the next
 * day better than any of the three (docs/prediction.md).
 */
export const pooledMedian = { id: 'pooled-median', rules: ['vpa-samples', 'autopilot-p95'] } as const satisfies PooledMedianSpec;

/**
 * The median of five: pooled-median's three, moving-p95-288 and Autopilot's histogram at p98. It
 * drops two wrong forecasts out of five, and its two extra members sit on either side of the
 * day's p95 (the last day's own p95, lower after a step down; the p98, higher after a step up),
 * where memory's steps land. On the memory validation folds of the Bitbrains training parts it
 * forecast the next day better than pooled-median (0.917 against 0.934 pinball), on CPU worse
 * (1.477 against 1.434). Each is a candidate of its own, chosen per target and horizon.
 */
export const pooledMedianFive = { id: 'pooled-median-5', rules: ['vpa-samples', 'autopilot-p95', 'moving-p95-288'], decayedQuantile: 0.98 } as const satisfies PooledMedianSpec;

const version = '1';

export function createPooledMedian(spec: PooledMedianSpec = pooledMedian, overrides: Partial<PooledForecasterOptions> = {}): ResourceModel {
  const pooled = createPooledForecaster(overrides);
  const rules = spec.rules.map((id) => createResourceBaseline(id));
  const q = spec.decayedQuantile;
  const medianWith = [...spec.rules, ...(q === undefined ? [] : [`decayed-p${q * 100}`])].join(',');
  return {
    id: spec.id,
    version,
    kind: 'resource',
    async fit(data: readonly Float64Array[], fit: FitOptions = {}): Promise<TrainingReport> {
      const report = await pooled.fit(data, fit);
      return { ...report, modelId: spec.id, modelVersion: version, details: { ...report.details, medianWith } };
    },
    predict(query: ResourceQuery): Float64Array {
      const members = [pooled.predict(query), ...rules.map((r) => r.predict(query))];
      if (q !== undefined) {
        const upper = decayedQuantiles(query.series, query.origins, autopilot.halfLifeSteps, q);
        members.push(Float64Array.from(query.origins, (t, i) => (t > 0 ? upper[i]! : 0)));
      }
      const at = new Float64Array(members.length);
      return Float64Array.from(query.origins, (_, i) => {
        members.forEach((m, j) => (at[j] = m[i]!));
        return at.sort()[members.length >> 1]!;
      });
    },
    async save(): Promise<SavedModel> {
      return { id: spec.id, version, state: { pooled: await pooled.save() } };
    },
    async load(saved: SavedModel): Promise<void> {
      if (saved.id !== spec.id || saved.version !== version) throw new ValidationError('model', `not a ${spec.id} v${version} model`);
      const inner = (saved.state as { pooled?: unknown } | undefined)?.pooled;
      if (typeof inner !== 'object' || inner === null) throw new ValidationError('state.pooled', 'the saved pooled forecaster');
      await pooled.load(inner as SavedModel);
    },
  };
}
