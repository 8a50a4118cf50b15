import { stepsPerDay, stepsPerHour } from '../features.js';
import { sortedQuantile, windowMax, windowQuantile } from '../window-stats.js';

/**
 * Statistics over the last week, beside the day-long ones of `features.ts` (which the LSTM shares
 * and which stay as they are): the week's level, its daily peaks (what VPA's memory recommender
 * reads), the same day a week ago, the coming hour on each of the last seven days (a daily
 * habit), and the two decayed-histogram quantiles of the recommenders (Autopilot's 12 h and VPA's
 * 24 h half-life), so a learner can start from the best rule instead of rebuilding it.
 */
export const weekFeatureNames = [
  'p50_2016',
  'p95_2016',
  'max2016',
  'daily_peaks_p90_7',
  'daily_peaks_mean_7',
  'week_ago_p95_288',
  'next_hour_max_mean_7',
  'next_hour_max_max_7',
  'decayed_p95_144',
  'decayed_p90_288',
] as const;

/** How far back the week's statistics read. */
export const weekLookback = 7 * stepsPerDay;

/** Writes the statistics of origin t (in 0–1 like the day's) into out[offset ..]; the decayed quantiles are computed by the caller in one pass. */
export function weekFeatures(s: Float64Array, t: number, decayedP95: number, decayedP90: number, out: Float32Array, offset: number): void {
  const last = s[t - 1] ?? 0;
  const week = s.slice(Math.max(0, t - weekLookback), Math.max(0, t)).sort();
  const peaks: number[] = [];
  const hours: number[] = [];
  for (let k = 1; k <= 7; k++) {
    const to = t - (k - 1) * stepsPerDay;
    if (to - stepsPerDay < 0) break;
    peaks.push(windowMax(s, to - stepsPerDay, to));
    hours.push(windowMax(s, t - k * stepsPerDay, t - k * stepsPerDay + stepsPerHour));
  }
  const sortedPeaks = [...peaks].sort((a, b) => a - b);
  const values = [
    sortedQuantile(week, 0.5),
    sortedQuantile(week, 0.95),
    week.length ? week[week.length - 1]! : NaN,
    sortedQuantile(sortedPeaks, 0.9),
    peaks.length ? peaks.reduce((a, b) => a + b, 0) / peaks.length : NaN,
    t >= weekLookback ? windowQuantile(s, t - weekLookback, t - weekLookback + stepsPerDay, 0.95) : NaN,
    hours.length ? hours.reduce((a, b) => a + b, 0) / hours.length : NaN,
    hours.length ? Math.max(...hours) : NaN,
    decayedP95,
    decayedP90,
  ];
  for (let i = 0; i < values.length; i++) out[offset + i] = (Number.isFinite(values[i]!) ? values[i]! : last) / 100;
}
