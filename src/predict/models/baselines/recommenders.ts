/**
 * What platform teams run instead of a forecaster: the Kubernetes Vertical Pod Autoscaler's
 * recommender and Autopilot's moving-window recommenders (Rzadca et al., EuroSys 2020), as
 * resource rules over the seen part of a series. Each value is in the series' own unit (percent).
 *
 * VPA (recommender defaults): samples go into a histogram with exponentially growing buckets
 * (ratio 1.05), weighted by an exponential decay with a 24 h half-life; the target is the
 * histogram's p90, plus a 15 % safety margin. CPU histograms hold every sample; memory histograms
 * hold the peak of each 24 h interval, for the last 8 intervals. A percentile is read as the upper
 * bound of the bucket it falls in, as VPA does.
 *
 * Autopilot: the same decayed histogram with a 12 h half-life, its p95 (the batch-job setting),
 * and the peak of the last 24 h (its max recommender), neither with a margin.
 */
const stepsPerDay = 288;
const bucketRatio = 1.05;
const firstBucket = 0.1; // percent; VPA starts at 0.01 cores for CPU
const bucketCount = Math.ceil(Math.log(10_000 / firstBucket) / Math.log(bucketRatio)) + 1;

function bucketOf(v: number): number {
  if (!(v > firstBucket)) return 0;
  return Math.min(bucketCount - 1, Math.floor(Math.log(v / firstBucket) / Math.log(bucketRatio)) + 1);
}

function bucketUpper(b: number): number {
  return firstBucket * bucketRatio ** b;
}

function histogramQuantile(hist: Float64Array, total: number, q: number): number {
  if (total <= 0) return 0;
  let acc = 0;
  for (let b = 0; b < hist.length; b++) {
    acc += hist[b]!;
    if (acc >= q * total) return bucketUpper(b);
  }
  return bucketUpper(hist.length - 1);
}

/**
 * The decayed-histogram quantile at every origin: weights grow as 2^(i / halfLife) instead of old
 * ones shrinking, so the histogram is built once, in one pass over the origins (in any order: an
 * origin before the last one restarts the pass).
 */
export function decayedQuantiles(series: Float64Array, origins: readonly number[], halfLifeSteps: number, q: number): Float64Array {
  const out = new Float64Array(origins.length);
  let hist = new Float64Array(bucketCount);
  let total = 0;
  let next = 0;
  let scale = 0; // weights are 2^((i - scale) / halfLife); rescaled before they overflow
  origins.forEach((t, k) => {
    if (t < next) ((hist = new Float64Array(bucketCount)), (total = 0), (next = 0), (scale = 0));
    for (; next < t && next < series.length; next++) {
      const exponent = (next - scale) / halfLifeSteps;
      if (exponent > 500) {
        const factor = 2 ** -exponent;
        for (let b = 0; b < bucketCount; b++) hist[b]! *= factor;
        total *= factor;
        scale = next;
      }
      const w = 2 ** ((next - scale) / halfLifeSteps);
      hist[bucketOf(series[next]!)]! += w;
      total += w;
    }
    out[k] = histogramQuantile(hist, total, q);
  });
  return out;
}

/** VPA's memory target: p90 of the decayed peaks of the last `intervals` day-long intervals, plus the margin. */
export function dailyPeakQuantile(series: Float64Array, t: number, intervals: number, q: number): number {
  const hist = new Float64Array(bucketCount);
  let total = 0;
  for (let k = 0; k < intervals; k++) {
    const to = t - k * stepsPerDay;
    const from = Math.max(0, to - stepsPerDay);
    if (to <= 0) break;
    let peak = -Infinity;
    for (let i = from; i < to; i++) if (series[i]! > peak) peak = series[i]!;
    const w = 2 ** -k; // one interval is one 24 h half-life
    hist[bucketOf(peak)]! += w;
    total += w;
  }
  return histogramQuantile(hist, total, q);
}

export const vpa = { halfLifeSteps: stepsPerDay, targetQuantile: 0.9, marginFraction: 0.15, memoryIntervals: 8 } as const;
export const autopilot = { halfLifeSteps: stepsPerDay / 2, quantile: 0.95, maxWindowSteps: stepsPerDay } as const;
