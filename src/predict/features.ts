import { sortedQuantile, windowMax, windowMean, windowMin, windowQuantile } from './window-stats.js';

/**
 * Features of one subject for the models. Resources: at a forecast origin t (the first unseen
 * 5-minute step) a sequence of hourly blocks of the recent past for the recurrent layer, and a
 * few summary statistics of longer windows (the values the baselines would use, so the network
 * can only add to them). Values are percentages scaled to 0–1.
 */
export const stepsPerHour = 12;
export const stepsPerDay = 288;
export const sequenceBlocks = 24;
export const blockFeatures = 3;
export const staticFeatureNames = [
  'last',
  'mean12',
  'p95_12',
  'max12',
  'mean288',
  'p95_288',
  'max288',
  'p95_864',
  'yesterday_p95_12',
  'yesterday_max_12',
  // The median beside the p95 of the last day(s): how bursty a VM is (idle, then flat out),
  // which decides whether covering its peaks is worth their waste.
  'p50_288',
  'p50_864',
  // Windows between the hour and the day: a batch VM that has been idle for half a day is
  // likely idle for the next one, which the day's p95 (still holding yesterday's run) cannot say.
  'max72',
  'max144',
  'p95_144',
  // How the day-ahead rules did lately: the allocation each made a day ago (its value at t − 288)
  // against what was used since, as waste and share of steps above it. Everything in
  // [t − 288, t) is known at t; a rule that has been right lately is a better bet after a
  // regime change than the one that was right in the training period.
  'waste_p95_288',
  'miss_p95_288',
  'waste_p95_864',
  'miss_p95_864',
  'waste_max144',
  'miss_max144',
] as const;

const scale = 1 / 100;

/** Writes the features of origin t into `seq` (sequenceBlocks × blockFeatures) and `stat`. */
export function resourceFeatures(s: Float64Array, t: number, seq: Float32Array, seqOffset: number, stat: Float32Array, statOffset: number): void {
  const first = s[0] ?? 0;
  for (let b = 0; b < sequenceBlocks; b++) {
    const to = t - stepsPerHour * (sequenceBlocks - 1 - b);
    const from = to - stepsPerHour;
    const o = seqOffset + b * blockFeatures;
    if (to <= 0) {
      // Before the series began: repeat its first value, as if it had always been there.
      seq[o] = seq[o + 1] = seq[o + 2] = first * scale;
      continue;
    }
    seq[o] = windowMean(s, from, to) * scale;
    seq[o + 1] = windowMax(s, from, to) * scale;
    seq[o + 2] = windowMin(s, from, to) * scale;
  }
  const y0 = t - stepsPerDay;
  // Each long window sorted once for its two quantiles.
  const day = s.slice(Math.max(0, t - stepsPerDay), Math.max(0, t)).sort();
  const days3 = s.slice(Math.max(0, t - 3 * stepsPerDay), Math.max(0, t)).sort();
  const values = [
    s[t - 1]!,
    windowMean(s, t - 12, t),
    windowQuantile(s, t - 12, t, 0.95),
    windowMax(s, t - 12, t),
    windowMean(s, t - stepsPerDay, t),
    sortedQuantile(day, 0.95),
    windowMax(s, t - stepsPerDay, t),
    sortedQuantile(days3, 0.95),
    y0 >= 0 ? windowQuantile(s, y0, y0 + 12, 0.95) : windowQuantile(s, t - 12, t, 0.95),
    y0 >= 0 ? windowMax(s, y0, y0 + 12) : windowMax(s, t - 12, t),
    sortedQuantile(day, 0.5),
    sortedQuantile(days3, 0.5),
    windowMax(s, t - 72, t),
    windowMax(s, t - 144, t),
    windowQuantile(s, t - 144, t, 0.95),
    ...realized(s, t, windowQuantile(s, t - 2 * stepsPerDay, t - stepsPerDay, 0.95)),
    ...realized(s, t, windowQuantile(s, t - 4 * stepsPerDay, t - stepsPerDay, 0.95)),
    ...realized(s, t, windowMax(s, t - stepsPerDay - 144, t - stepsPerDay)),
  ];
  for (let i = 0; i < values.length; i++) stat[statOffset + i] = (Number.isFinite(values[i]!) ? values[i]! : first) * scale;
}

/** Waste (points) and share of steps above (in percent) of allocating `a` over [t − 288, t). */
function realized(s: Float64Array, t: number, a: number): [number, number] {
  const from = Math.max(0, t - stepsPerDay);
  if (!(t - from > 0) || !Number.isFinite(a)) return [0, 0];
  let waste = 0;
  let miss = 0;
  for (let i = from; i < t; i++) {
    const y = s[i]!;
    if (y > a) miss++;
    else waste += a - y;
  }
  return [waste / (t - from), (100 * miss) / (t - from)];
}

/**
 * Sequences: the programs in order, capped to a vocabulary of the most used ones (the rest share
 * one out-of-vocabulary id) so a network's output layer stays small.
 */
export function buildVocabulary(sequences: readonly (readonly string[])[], maxSize: number): string[] {
  const counts = new Map<string, number>();
  for (const seq of sequences) for (const item of seq) counts.set(item, (counts.get(item) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, maxSize - 1).map((e) => e[0]);
}

/** Distinct items of a set-valued history (ports, destinations, data paths) with their counts. */
export function itemCounts<T>(items: readonly T[], key: (item: T) => string, weight: (item: T) => number = () => 1): Map<string, { item: T; count: number }> {
  const out = new Map<string, { item: T; count: number }>();
  for (const item of items) {
    const k = key(item);
    const e = out.get(k);
    if (e) e.count += weight(item);
    else out.set(k, { item, count: weight(item) });
  }
  return out;
}
