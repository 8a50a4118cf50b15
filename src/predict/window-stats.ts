/** Statistics of a window series[from .. to-1], clipped to the series; NaN when empty. */

export function windowMean(s: Float64Array, from: number, to: number): number {
  const a = Math.max(0, from);
  const b = Math.min(s.length, to);
  if (b <= a) return NaN;
  let sum = 0;
  for (let i = a; i < b; i++) sum += s[i]!;
  return sum / (b - a);
}

export function windowMax(s: Float64Array, from: number, to: number): number {
  const a = Math.max(0, from);
  const b = Math.min(s.length, to);
  if (b <= a) return NaN;
  let m = -Infinity;
  for (let i = a; i < b; i++) if (s[i]! > m) m = s[i]!;
  return m;
}

export function windowMin(s: Float64Array, from: number, to: number): number {
  const a = Math.max(0, from);
  const b = Math.min(s.length, to);
  if (b <= a) return NaN;
  let m = Infinity;
  for (let i = a; i < b; i++) if (s[i]! < m) m = s[i]!;
  return m;
}

/** Empirical quantile with linear interpolation (numpy's default). */
export function windowQuantile(s: Float64Array, from: number, to: number, q: number): number {
  const a = Math.max(0, from);
  const b = Math.min(s.length, to);
  if (b <= a) return NaN;
  const sorted = s.slice(a, b).sort();
  return sortedQuantile(sorted, q);
}

export function sortedQuantile(sorted: Float64Array | readonly number[], q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const pos = (n - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}
