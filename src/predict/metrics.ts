/**
 * Backtest metrics. Resource forecasts are a quantile of the next `horizon` values; each is
 * scored against every value in that horizon, so the pinball loss at p95 is minimised exactly by
 * the horizon's true p95 and "under-provisioning" is the share of 5-minute steps whose use was
 * above the allocation.
 */
export const peakQuantile = 0.95;

export function pinball(actual: number, forecast: number, q: number): number {
  const d = actual - forecast;
  return d >= 0 ? q * d : (q - 1) * d;
}

/** Running sums of one model's resource backtest. */
export class ResourceScore {
  private n = 0;
  private absErr = 0;
  private pinballSum = 0;
  add(series: Float64Array, origin: number, horizon: number, forecast: number, q: number): void {
    for (let h = 0; h < horizon; h++) {
      const y = series[origin + h]!;
      this.absErr += Math.abs(y - forecast);
      this.pinballSum += pinball(y, forecast, q);
      this.n++;
    }
  }
  get count(): number {
    return this.n;
  }
  get mae(): number {
    return this.absErr / this.n;
  }
  get pinball(): number {
    return this.pinballSum / this.n;
  }
}

export interface AllocationFigures {
  /** Share of 5-minute steps whose use exceeded the allocation. */
  underProvisioningRate: number;
  /** Mean over all steps of the allocation left unused, max(0, allocation − use), in the series' unit. */
  waste: number;
  /** The margin added to the forecast (percentage points; may be negative). */
  margin: number;
  /**
   * Subjects whose own steps were under-provisioned more than 10 % of the time. The rate above
   * pools all steps, so it can be met by giving up on a few bursty subjects: this says whether
   * an allocation does.
   */
  subjectsOver10Percent: number;
}

export interface AllocationCase {
  forecast: number;
  /** The values of the period the allocation is made for. */
  actual: Float64Array;
  /** Which series the case belongs to (for the per-subject figure). */
  subject?: number;
}

/**
 * The allocation policy the resource module applies to a peak forecast: forecast + margin,
 * within [floor, cap] (a VM always gets something, never more than the capacity). The margin is
 * additive because a p95 forecast already carries the spread of its series: a multiplicative
 * headroom would rescale the forecast's own error model instead of correcting its bias.
 */
export function allocate(forecast: number, margin: number, floor = 1, cap = 100): number {
  return Math.min(cap, Math.max(floor, forecast + margin));
}

export function allocationFigures(cases: readonly AllocationCase[], margin: number, floor = 1, cap = 100): AllocationFigures {
  let steps = 0;
  let under = 0;
  let waste = 0;
  const perSubject = new Map<number, { steps: number; under: number }>();
  for (const c of cases) {
    const alloc = allocate(c.forecast, margin, floor, cap);
    let u = 0;
    for (const y of c.actual) {
      if (y > alloc) u++;
      else waste += alloc - y;
    }
    steps += c.actual.length;
    under += u;
    if (c.subject !== undefined) {
      const e = perSubject.get(c.subject) ?? { steps: 0, under: 0 };
      e.steps += c.actual.length;
      e.under += u;
      perSubject.set(c.subject, e);
    }
  }
  let over = 0;
  for (const e of perSubject.values()) if (e.under > 0.1 * e.steps) over++;
  return { underProvisioningRate: steps ? under / steps : 0, waste: steps ? waste / steps : 0, margin, subjectsOver10Percent: over };
}

/**
 * The smallest margin whose under-provisioning rate is at most `targetRate`. This is how every
 * model, baseline or network, is "tuned to the same under-provisioning" before wastes are
 * compared. With the floor and cap, a step is above its allocation exactly when its use is above
 * the cap (whatever the margin), or above the floor and above forecast + margin; so the answer is
 * read off the sorted use − forecast of the steps between floor and cap, once the steps above the
 * cap have used their share of the budget. Exact (the floor matters: the plain quantile of use −
 * forecast overshoots for models that forecast near the floor, and would charge them margin they
 * do not need) and one sort instead of a search over all steps.
 */
export function marginFor(cases: readonly AllocationCase[], targetRate: number, floor = 1, cap = 100): number {
  let n = 0;
  for (const c of cases) n += c.actual.length;
  if (n === 0) return 0;
  const between = new Float64Array(n);
  let m = 0;
  let aboveCap = 0;
  let lowest = Infinity;
  for (const c of cases)
    for (const y of c.actual) {
      lowest = Math.min(lowest, y - c.forecast);
      if (y > cap) aboveCap++;
      else if (y > floor) between[m++] = y - c.forecast;
    }
  const excess = between.subarray(0, m).sort();
  // How many of the in-between steps may still be above their allocation.
  const allowed = Math.floor(targetRate * n + 1e-9) - aboveCap;
  if (allowed >= m) return lowest - 1;
  // The margin must reach the (allowed + 1)-th largest excess; steps equal to it are covered.
  return excess[Math.max(0, m - 1 - Math.max(0, allowed))]!;
}
