import { allocate, peakQuantile, pinball } from '../metrics.js';
import type { ResourceUnit } from './pooled-forecaster.js';

/**
 * Per-subject allocation: forecast + the subject's own margin, the margin being a conformal
 * quantile of what the subject's use exceeded its forecasts by on a held-back slice of its own
 * past. Calibrating per subject is what holds each machine's own under-provisioning (a pooled
 * margin would let bursty machines miss often while calm ones idle under a margin they never need).
 */
export interface Bounds {
  floor: number;
  cap: number;
}

export function boundsOf(unit: ResourceUnit): Bounds {
  return unit === 'percent' ? { floor: 1, cap: 100 } : { floor: 0, cap: Infinity };
}

/** use − forecast over every step of every origin's horizon, sorted ascending. */
export function sortedExcess(series: Float64Array, origins: readonly number[], forecasts: Float64Array, horizon: number): Float64Array {
  const out = new Float64Array(origins.length * horizon);
  let n = 0;
  origins.forEach((t, i) => {
    for (let h = 0; h < horizon && t + h < series.length; h++) out[n++] = series[t + h]! - forecasts[i]!;
  });
  return out.subarray(0, n).sort();
}

/**
 * The split-conformal margin for a share `alpha` of steps above the allocation: the
 * ⌈(n + 1)(1 − α)⌉-th smallest excess (the largest one when n is small). No calibration data: 0.
 */
export function conformalMargin(excess: Float64Array, alpha: number): number {
  const n = excess.length;
  if (n === 0) return 0;
  const k = Math.ceil((n + 1) * (1 - alpha)) - 1;
  return excess[Math.min(n - 1, Math.max(0, k))]!;
}

/**
 * A subject's margin shrunk towards the population's: (1 − λ)·its own conformal margin + λ·the
 * pooled excess quantile (the same α over every subject's calibration excess). A VM whose own
 * slice is short or was quiet gets part of the margin its population needed; λ = 0 is the
 * subject's own margin alone (model sets saved before λ). λ is chosen on validation.
 */
export function shrunkMargin(own: number, pooled: number, shrinkage: number): number {
  return shrinkage === 0 ? own : (1 - shrinkage) * own + shrinkage * pooled;
}

/**
 * Where a subject's margin came from: its own calibration slice (shrunk by λ), the population's
 * pooled excess quantile (its slice holds no origin: a history shorter than the slice and one
 * horizon, any new client at first), or neither (no subject's slice held one: the bare forecast).
 */
export const marginSources = ['own', 'pooled', 'none'] as const;
export type MarginSource = (typeof marginSources)[number];

/**
 * A subject's margin, the one rule train, the usage vector, eval and validation apply. With no
 * evidence of its own a subject gets its population's margin, as if λ were 1: its own conformal
 * margin of nothing would be 0, the bare forecast, for exactly the subjects known least. Without
 * a pooled margin either (every subject short, or a model set saved before λ), 0 as before.
 */
export function subjectMargin(args: { excess: Float64Array; alpha: number; pooled: number | undefined; shrinkage: number }): { margin: number; source: MarginSource } {
  if (args.excess.length === 0) return args.pooled === undefined ? { margin: 0, source: 'none' } : { margin: args.pooled, source: 'pooled' };
  return { margin: shrunkMargin(conformalMargin(args.excess, args.alpha), args.pooled ?? 0, args.shrinkage), source: 'own' };
}

/** Sorted excesses of many subjects merged into one sorted array (for the pooled excess quantile). */
export function mergeExcess(parts: readonly Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let n = 0;
  for (const p of parts) {
    out.set(p, n);
    n += p.length;
  }
  return out.sort();
}

export interface AllocationSummary {
  /** Share of 5-minute steps whose use was above the allocation. */
  underProvisioningRate: number;
  /** Mean over steps of allocation − use where positive, in the series' unit. */
  waste: number;
  /** Subjects whose own steps were above their allocation more than 10 % of the time, and of how many. */
  subjectsOver10Percent: number;
  subjects: number;
  pinballP95: number;
  steps: number;
}

/** Running sums over subjects (and folds), so partial scores add up. */
export class AllocationTally {
  steps = 0;
  under = 0;
  wasteSum = 0;
  pinballSum = 0;
  subjects = 0;
  subjectsOver = 0;

  add(series: Float64Array, origins: readonly number[], forecasts: Float64Array, horizon: number, margin: number, bounds: Bounds): void {
    let steps = 0;
    let under = 0;
    origins.forEach((t, i) => {
      const f = forecasts[i]!;
      const a = allocate(f, margin, bounds.floor, bounds.cap);
      for (let h = 0; h < horizon && t + h < series.length; h++) {
        const y = series[t + h]!;
        this.pinballSum += pinball(y, f, peakQuantile);
        if (y > a) under++;
        else this.wasteSum += a - y;
        steps++;
      }
    });
    if (steps === 0) return;
    this.steps += steps;
    this.under += under;
    this.subjects++;
    if (under > 0.1 * steps) this.subjectsOver++;
  }

  merge(other: AllocationTally): this {
    this.steps += other.steps;
    this.under += other.under;
    this.wasteSum += other.wasteSum;
    this.pinballSum += other.pinballSum;
    this.subjects += other.subjects;
    this.subjectsOver += other.subjectsOver;
    return this;
  }

  summary(): AllocationSummary {
    const n = this.steps || 1;
    return {
      underProvisioningRate: this.under / n,
      waste: this.wasteSum / n,
      subjectsOver10Percent: this.subjectsOver,
      subjects: this.subjects,
      pinballP95: this.pinballSum / n,
      steps: this.steps,
    };
  }
}
