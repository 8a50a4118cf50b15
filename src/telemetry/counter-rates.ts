/**
 * Per-second rates from cumulative counters (OTLP cumulative sums, Prometheus `_total`s).
 * The first point of a series is only a baseline; a counter that goes down was reset and
 * becomes the new baseline. Bounded, because series keys come from the network.
 */
export interface CounterRates {
  /** The rate since the previous point of `series`, or undefined for a baseline. */
  rate(series: string, timeMs: number, value: number): number | undefined;
}

export function createCounterRates(maxSeries = 200_000): CounterRates {
  const last = new Map<string, { t: number; v: number }>();
  return {
    rate(series, timeMs, value) {
      const prev = last.get(series);
      if (prev === undefined && last.size >= maxSeries) last.clear();
      last.set(series, { t: timeMs, v: value });
      if (prev === undefined || timeMs <= prev.t || value < prev.v) return undefined;
      return (value - prev.v) / ((timeMs - prev.t) / 1000);
    },
  };
}
