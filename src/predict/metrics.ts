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
}

export interface AllocationCase {
  forecast: number;
  /** The values of the period the allocation is made for. */
  actual: Float64Array;
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
  for (const c of cases) {
    const alloc = allocate(c.forecast, margin, floor, cap);
    for (const y of c.actual) {
      steps++;
      if (y > alloc) under++;
      else waste += alloc - y;
    }
  }
  return { underProvisioningRate: steps ? under / steps : 0, waste: steps ? waste / steps : 0, margin };
}

/**
 * The smallest margin whose under-provisioning rate is at most `targetRate`: the (1 − target)
 * quantile of use − forecast over all steps (the floor only ever lowers the rate). This is how
 * every baseline is "tuned to the same under-provisioning" before wastes are compared.
 */
export function marginFor(cases: readonly AllocationCase[], targetRate: number): number {
  let n = 0;
  for (const c of cases) n += c.actual.length;
  if (n === 0) return 0;
  const excess = new Float64Array(n);
  let i = 0;
  for (const c of cases) for (const y of c.actual) excess[i++] = y - c.forecast;
  excess.sort();
  return excess[Math.min(n - 1, Math.max(0, Math.ceil(n * (1 - targetRate)) - 1))]!;
}
