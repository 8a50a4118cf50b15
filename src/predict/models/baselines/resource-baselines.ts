import { ValidationError } from '../../../core/errors.js';
import { peakQuantile } from '../../metrics.js';
import { windowMax, windowMean, windowQuantile } from '../../window-stats.js';
import { autopilot, dailyPeakQuantile, decayedQuantiles, vpa } from './recommenders.js';
import { trainingReport, type ResourceModel, type ResourceQuery, type SavedModel, type TrainingReport } from '../model.js';

/**
 * The resource baselines that every learnt forecaster is compared with. They need no training;
 * each maps the seen part of a series to one number that stands for the next horizon. They are
 * evaluated as peak forecasts like the networks, so "moving percentile" is the honest rival of a
 * p95 forecaster and "last value" is the naive one.
 */
export const resourceBaselineIds = [
  'last-value',
  'moving-average-12',
  'moving-p95-12',
  'moving-p95-288',
  'ewma-0.3',
  'seasonal-naive',
  'vpa-samples',
  'vpa-daily-peaks',
  'autopilot-p95',
  'autopilot-max',
] as const;
export type ResourceBaselineId = (typeof resourceBaselineIds)[number];

const stepsPerDay = 288;

type Rule = (s: Float64Array, t: number, horizon: number) => number;

const rules: Record<ResourceBaselineId, Rule> = {
  'last-value': (s, t) => s[t - 1]!,
  'moving-average-12': (s, t) => windowMean(s, t - 12, t),
  'moving-p95-12': (s, t) => windowQuantile(s, t - 12, t, peakQuantile),
  'moving-p95-288': (s, t) => windowQuantile(s, t - stepsPerDay, t, peakQuantile),
  'ewma-0.3': () => NaN, // computed over the whole prefix in predict()
  'vpa-samples': () => NaN, // one pass over the origins in predict()
  'autopilot-p95': () => NaN,
  'vpa-daily-peaks': (s, t) => dailyPeakQuantile(s, t, vpa.memoryIntervals, vpa.targetQuantile) * (1 + vpa.marginFraction),
  'autopilot-max': (s, t) => windowMax(s, t - autopilot.maxWindowSteps, t),
  // The same hours yesterday: their p95 for a peak over several steps, the value for one step.
  'seasonal-naive': (s, t, horizon) =>
    t >= stepsPerDay ? windowQuantile(s, t - stepsPerDay, t - stepsPerDay + horizon, horizon === 1 ? 0.5 : peakQuantile) : s[t - 1]!,
};

export function createResourceBaseline(id: ResourceBaselineId): ResourceModel {
  if (!resourceBaselineIds.includes(id)) throw new ValidationError('model', `unknown resource baseline ${JSON.stringify(id)}`);
  return {
    id,
    version: '1',
    kind: 'resource',
    async fit(data: readonly Float64Array[]): Promise<TrainingReport> {
      return trainingReport({ id, version: '1' }, performance.now(), data.length, { trained: false });
    },
    predict({ series, origins, horizon }: ResourceQuery): Float64Array {
      const out = new Float64Array(origins.length);
      if (id === 'ewma-0.3') {
        const alpha = 0.3;
        const ewma = new Float64Array(series.length);
        let e = series[0] ?? 0;
        for (let i = 0; i < series.length; i++) ewma[i] = e = i === 0 ? e : alpha * series[i]! + (1 - alpha) * e;
        origins.forEach((t, i) => (out[i] = t > 0 ? ewma[t - 1]! : 0));
        return out;
      }
      if (id === 'vpa-samples' || id === 'autopilot-p95') {
        const [halfLife, q, margin] = id === 'vpa-samples' ? [vpa.halfLifeSteps, vpa.targetQuantile, vpa.marginFraction] : [autopilot.halfLifeSteps, autopilot.quantile, 0];
        const quantiles = decayedQuantiles(series, origins, halfLife, q);
        origins.forEach((t, i) => (out[i] = t > 0 ? quantiles[i]! * (1 + margin) : 0));
        return out;
      }
      const rule = rules[id];
      origins.forEach((t, i) => (out[i] = t > 0 ? rule(series, t, horizon) : 0));
      return out;
    },
    async save(): Promise<SavedModel> {
      return { id, version: '1', state: {} };
    },
    async load(): Promise<void> {},
  };
}
