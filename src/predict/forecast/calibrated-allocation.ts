import type { ResourceModel } from '../models/model.js';
import { allocate } from '../metrics.js';
import { calibrationOrigins } from './forecast-selection.js';
import { conformalMargin, mergeExcess, sortedExcess, subjectMargin, type Bounds, type MarginSource } from './subject-allocation.js';

/** How a subject's margin is calibrated: α, the slice of its history, and λ towards the pooled excess quantile (absent: 0, as model sets saved before λ). */
export interface MarginRule {
  alpha: number;
  calibrationShare: number;
  shrinkage?: number;
  /**
   * The pooled excess quantile at α over the training subjects (`pooledExcessMargin`): what λ
   * shrinks towards, and the whole margin of a subject whose own slice holds no origin. Absent
   * (model sets saved before λ; every training subject too short to calibrate): such a subject
   * gets no margin, as before. Model sets saved with λ = 0 before it was kept always hold 0 here.
   */
  pooledMargin?: number;
}

/**
 * What a subject is allocated for the horizon after the end of its history, as `eval` scores it:
 * the allocation model's forecast plus the subject's own conformal margin, calibrated on the
 * last `calibrationShare` of its own history at the α chosen on validation, shrunk by λ towards
 * the pooled margin kept with the model set — or that pooled margin alone when the subject's
 * history is too short for its slice to hold an origin (`subjectMargin`). `train`, the usage
 * vector and `eval` all get the margin from here; `marginSource` says which it was.
 */
export function calibratedAllocation(
  model: ResourceModel,
  series: Float64Array,
  horizon: number,
  rule: MarginRule,
  bounds: Bounds = { floor: 1, cap: 100 },
): { forecast: number; margin: number; marginSource: MarginSource; allocation: number } {
  const cal = calibrationOrigins(series.length, rule.calibrationShare, horizon);
  const f = model.predict({ series, origins: [...cal, series.length], horizon });
  const { margin, source } = subjectMargin({ excess: sortedExcess(series, cal, f.subarray(0, cal.length), horizon), alpha: rule.alpha, pooled: rule.pooledMargin, shrinkage: rule.shrinkage ?? 0 });
  const forecast = f[cal.length]!;
  return { forecast, margin, marginSource: source, allocation: allocate(forecast, margin, bounds.floor, bounds.cap) };
}

/**
 * The pooled excess quantile: the conformal margin at α over every subject's calibration excess
 * (each calibrated on the last `calibrationShare` of its own series, as `calibratedAllocation`
 * does), what λ shrinks each subject's margin towards and what a subject too short to calibrate
 * gets. Kept with the model set by `train`. Undefined when no subject's slice holds an origin.
 */
export function pooledExcessMargin(model: ResourceModel, series: readonly Float64Array[], horizon: number, rule: { alpha: number; calibrationShare: number }): number | undefined {
  const excess = series.map((s) => {
    const cal = calibrationOrigins(s.length, rule.calibrationShare, horizon);
    return cal.length === 0 ? new Float64Array(0) : sortedExcess(s, cal, model.predict({ series: s, origins: cal, horizon }), horizon);
  });
  const merged = mergeExcess(excess);
  return merged.length === 0 ? undefined : conformalMargin(merged, rule.alpha);
}
