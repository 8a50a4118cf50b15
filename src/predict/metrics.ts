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
  /** Share of steps whose use exceeded the allocation. */
  underProvisioningRate: number;
  /** Mean of (allocation − use) over the steps where use fitted, in the series' unit. */
  waste: number;
  headroom: number;
}

export interface AllocationCase {
  forecast: number;
  actual: Float64Array;
}

/**
 * The allocation policy the resource module applies to a peak forecast: forecast × headroom,
 * never below `floor` (a forecast of 0 % must still give the VM something), capped at `cap`
 * (the capacity).
 */
export function allocate(forecast: number, headroom: number, floor = 1, cap = 100): number {
  return Math.min(cap, headroom * Math.max(forecast, floor));
}

export function allocationFigures(cases: readonly AllocationCase[], headroom: number, floor = 1, cap = 100): AllocationFigures {
  let steps = 0;
  let under = 0;
  let waste = 0;
  for (const c of cases) {
    const alloc = allocate(c.forecast, headroom, floor, cap);
    for (const y of c.actual) {
      steps++;
      if (y > alloc) under++;
      else waste += alloc - y;
    }
  }
  return { underProvisioningRate: steps ? under / steps : 0, waste: steps ? waste / steps : 0, headroom };
}

/**
 * The smallest headroom whose under-provisioning rate is at most `targetRate`: the (1 − target)
 * quantile of use / max(forecast, floor). This is how every baseline is "tuned to the same
 * under-provisioning" before wastes are compared. (Steps above the cap cannot be covered at all
 * and stay counted as under-provisioned.)
 */
export function headroomFor(cases: readonly AllocationCase[], targetRate: number, floor = 1): number {
  let n = 0;
  for (const c of cases) n += c.actual.length;
  const ratios = new Float64Array(n);
  let i = 0;
  for (const c of cases) {
    const base = Math.max(c.forecast, floor);
    for (const y of c.actual) ratios[i++] = y / base;
  }
  ratios.sort();
  const k = Math.min(n - 1, Math.max(0, Math.ceil(n * (1 - targetRate)) - 1));
  return n === 0 ? 1 : Math.max(ratios[k]!, 1e-9);
}
