import type { ResourceModel } from '../models/model.js';
import { allocate } from '../metrics.js';
import { calibrationOrigins } from './forecast-selection.js';
import { conformalMargin, sortedExcess, type Bounds } from './subject-allocation.js';

/**
 * What a subject is allocated for the horizon after the end of its history, as `eval` scores it:
 * the allocation model's forecast plus the subject's own conformal margin, calibrated on the
 * last `calibrationShare` of its own history at the α chosen on validation.
 */
export function calibratedAllocation(model: ResourceModel, series: Float64Array, horizon: number, rule: { alpha: number; calibrationShare: number }, bounds: Bounds = { floor: 1, cap: 100 }): { forecast: number; margin: number; allocation: number } {
  const cal = calibrationOrigins(series.length, rule.calibrationShare, horizon);
  const f = model.predict({ series, origins: [...cal, series.length], horizon });
  const margin = conformalMargin(sortedExcess(series, cal, f.subarray(0, cal.length), horizon), rule.alpha);
  const forecast = f[cal.length]!;
  return { forecast, margin, allocation: allocate(forecast, margin, bounds.floor, bounds.cap) };
}
