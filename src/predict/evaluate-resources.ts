import { AbortedError } from '../core/errors.js';
import type { HistorySource, ResourceSeries } from './history.js';
import { allocationFigures, marginFor, type AllocationFigures, peakQuantile, ResourceScore, type AllocationCase } from './metrics.js';
import type { ResourceModel } from './models/model.js';

export const resourceTargets = ['cpuPercent', 'memoryPercent'] as const;
export type ResourceTarget = (typeof resourceTargets)[number];

export interface ResourceBacktestOptions {
  target: ResourceTarget;
  horizon: number;
  /** Share of each series held out at its end. */
  testFraction: number;
  /** Score every n-th origin of the held-out part (all models see the same origins). */
  originStride: number;
  /** Under-provisioning the allocation policy aims at. */
  targetUnderProvisioning: number;
  signal?: AbortSignal;
}

export interface ResourceModelResult {
  model: string;
  version: string;
  horizonSteps: number;
  mae: number;
  pinballP95: number;
  /** Allocation = forecast + margin calibrated on the training tail (what the module would do). */
  allocation: AllocationFigures;
  /** The same forecasts with the headroom tuned on the test set to the reference under-provisioning. */
  tunedToReference?: AllocationFigures;
  scoredSteps: number;
  /** The rule this model's forecasts are, when its training never beat its starting point. */
  fellBackTo?: string;
}

/** Each series split chronologically: training prefix, held-out suffix. Never shuffled. */
export function splitSeries(s: Float64Array, testFraction: number): { train: Float64Array; testStart: number } {
  const testStart = Math.floor(s.length * (1 - testFraction));
  return { train: s.subarray(0, testStart), testStart };
}

export async function loadTargetSeries(history: HistorySource, target: ResourceTarget, signal?: AbortSignal): Promise<{ id: string; values: Float64Array; series: ResourceSeries }[]> {
  const out: { id: string; values: Float64Array; series: ResourceSeries }[] = [];
  for (const subject of await history.subjects(signal)) {
    if (signal?.aborted) throw new AbortedError('loading history');
    const series = await history.resourceSeries(subject.id, signal);
    const values = series?.[target];
    if (series && values && values.length > 0) out.push({ id: subject.id, values, series });
  }
  return out;
}

/**
 * Backtest of resource models on held-out suffixes. The allocation margin of each model is
 * calibrated on the last origins of its own training part (as deployment would), then applied to
 * the test part; for a like-for-like waste comparison every model's margin is also tuned on the
 * test part to the under-provisioning of the `reference` model.
 */
export function backtestResources(
  all: readonly Float64Array[],
  models: readonly ResourceModel[],
  options: ResourceBacktestOptions,
  reference?: string,
): ResourceModelResult[] {
  const { horizon, testFraction, originStride } = options;
  const results: ResourceModelResult[] = [];
  const perModelCases = new Map<string, AllocationCase[]>();
  for (const model of models) {
    if (options.signal?.aborted) throw new AbortedError('backtest');
    const score = new ResourceScore();
    const testCases: AllocationCase[] = [];
    const calibCases: AllocationCase[] = [];
    for (const [subject, s] of all.entries()) {
      const { testStart } = splitSeries(s, testFraction);
      const testOrigins: number[] = [];
      for (let t = Math.max(1, testStart); t + horizon <= s.length; t += originStride) testOrigins.push(t);
      // Calibration origins: the tail of the training part whose horizon stays inside it.
      const calibOrigins: number[] = [];
      const calibFrom = Math.max(1, Math.floor(testStart * 0.85));
      for (let t = calibFrom; t + horizon <= testStart; t += originStride * 2) calibOrigins.push(t);
      if (testOrigins.length === 0) continue;
      const visible = s; // models only read series[0 .. origin-1]
      const query = { series: visible, origins: testOrigins, horizon };
      const f = model.predict(query);
      const basis = model.allocationBasis?.(query) ?? f;
      testOrigins.forEach((t, i) => {
        score.add(s, t, horizon, f[i]!, peakQuantile);
        testCases.push({ forecast: basis[i]!, actual: s.subarray(t, t + horizon), subject });
      });
      if (calibOrigins.length > 0) {
        const calib = { series: s.subarray(0, testStart), origins: calibOrigins, horizon };
        const fc = model.allocationBasis?.(calib) ?? model.predict(calib);
        calibOrigins.forEach((t, i) => calibCases.push({ forecast: fc[i]!, actual: s.subarray(t, t + horizon) }));
      }
    }
    const margin = calibCases.length > 0 ? marginFor(calibCases, options.targetUnderProvisioning) : 0;
    perModelCases.set(model.id, testCases);
    const fellBackTo = model.fellBackTo?.(horizon);
    results.push({
      ...(fellBackTo ? { fellBackTo } : {}),
      model: model.id,
      version: model.version,
      horizonSteps: horizon,
      mae: score.mae,
      pinballP95: score.pinball,
      allocation: allocationFigures(testCases, margin),
      scoredSteps: score.count,
    });
  }
  const ref = results.find((r) => r.model === reference);
  if (ref) {
    const rate = ref.allocation.underProvisioningRate;
    for (const r of results) {
      const cases = perModelCases.get(r.model)!;
      r.tunedToReference = allocationFigures(cases, marginFor(cases, rate));
    }
  }
  return results;
}
