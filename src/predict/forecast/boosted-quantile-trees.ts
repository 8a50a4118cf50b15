import { AbortedError, ValidationError } from '../../core/errors.js';
import { seededRandom } from '../../core/seeded-random.js';
import type { QuantileRegressionData } from './quantile-regression.js';

/**
 * Gradient-boosted regression trees for a quantile (Friedman 2001, "LAD/quantile TreeBoost"):
 * each tree is grown by least squares on the negative gradient of the pinball loss (q − share
 * of the row's targets below its current forecast), and each leaf then takes the exact
 * q-quantile of the residuals of every target of its rows — the step that minimises the pinball
 * loss in that leaf. Boosting starts from a given forecast per row (the linear quantile
 * regression's), so the trees only learn what a linear combination of the statistics misses:
 * where the rules' regimes change (a batch VM idle for half a day, a memory step).
 *
 * Splits are searched on per-feature quantile bins (histograms), so a tree costs a few passes
 * over the rows. Deterministic for a given seed (row subsampling).
 */
export interface BoostedTreesOptions {
  quantile: number;
  trees: number;
  depth: number;
  learningRate: number;
  /** No leaf holds fewer rows: a leaf must speak for many origins (and machines), not one burst. */
  minLeafRows: number;
  bins: number;
  /** Share of rows each tree is grown on. */
  subsample: number;
  seed: number;
  signal?: AbortSignal;
}

export const defaultBoostedTreesOptions: Omit<BoostedTreesOptions, 'quantile'> = {
  trees: 100,
  depth: 3,
  learningRate: 0.1,
  minLeafRows: 200,
  bins: 32,
  subsample: 0.5,
  seed: 1,
};

/** One tree as flat arrays: node i splits on feature[i] at threshold[i] (x ≤ threshold goes left) or, when feature[i] < 0, is a leaf worth value[i]. */
export interface QuantileTree {
  feature: number[];
  threshold: number[];
  left: number[];
  right: number[];
  value: number[];
}

export function fitBoostedQuantileTrees(data: QuantileRegressionData, start: Float64Array, overrides: Partial<BoostedTreesOptions> & { quantile: number }): QuantileTree[] {
  const o = { ...defaultBoostedTreesOptions, ...overrides };
  const { features: X, dims: d, targets: Y, targetsPerRow: k } = data;
  const rows = Math.floor(X.length / d);
  if (start.length !== rows) throw new ValidationError('start', `one starting forecast per row (${rows}), got ${start.length}`);
  const q = o.quantile;
  // Per-feature thresholds (quantiles of a sample) and each row's bin.
  const thresholds: Float64Array[] = [];
  const binned = new Uint8Array(rows * d);
  const rnd = seededRandom(o.seed);
  for (let a = 0; a < d; a++) {
    const sample = new Float64Array(Math.min(rows, 4096));
    for (let i = 0; i < sample.length; i++) sample[i] = X[Math.floor(rnd() * rows) * d + a]!;
    sample.sort();
    const t: number[] = [];
    for (let b = 1; b < o.bins; b++) {
      const v = sample[Math.floor((b * sample.length) / o.bins)]!;
      if (t.length === 0 || v > t[t.length - 1]!) t.push(v);
    }
    thresholds.push(Float64Array.from(t));
    for (let i = 0; i < rows; i++) binned[i * d + a] = binOf(thresholds[a]!, X[i * d + a]!);
  }
  const f = Float64Array.from(start);
  const gradient = new Float64Array(rows);
  const trees: QuantileTree[] = [];
  const sums = new Float64Array(d * o.bins);
  const counts = new Float64Array(d * o.bins);
  for (let n = 0; n < o.trees; n++) {
    if (o.signal?.aborted) throw new AbortedError('fitting boosted quantile trees');
    const chosen: number[] = [];
    for (let i = 0; i < rows; i++) if (rnd() < o.subsample) chosen.push(i);
    for (const i of chosen) {
      let below = 0;
      for (let j = 0; j < k; j++) if (Y[i * k + j]! < f[i]!) below++;
      gradient[i] = q - below / k;
    }
    const tree: QuantileTree = { feature: [], threshold: [], left: [], right: [], value: [] };
    const grow = (members: number[], depth: number): number => {
      const node = tree.feature.length;
      tree.feature.push(-1), tree.threshold.push(0), tree.left.push(-1), tree.right.push(-1), tree.value.push(0);
      let split: { a: number; b: number; gain: number } | undefined;
      if (depth < o.depth && members.length >= 2 * o.minLeafRows) {
        sums.fill(0);
        counts.fill(0);
        let total = 0;
        for (const i of members) {
          const g = gradient[i]!;
          total += g;
          for (let a = 0; a < d; a++) {
            const c = a * o.bins + binned[i * d + a]!;
            sums[c]! += g;
            counts[c]!++;
          }
        }
        const base = (total * total) / members.length;
        for (let a = 0; a < d; a++) {
          let sl = 0;
          let nl = 0;
          for (let b = 0; b < thresholds[a]!.length; b++) {
            sl += sums[a * o.bins + b]!;
            nl += counts[a * o.bins + b]!;
            const nr = members.length - nl;
            if (nl < o.minLeafRows || nr < o.minLeafRows) continue;
            const sr = total - sl;
            const gain = (sl * sl) / nl + (sr * sr) / nr - base;
            if (gain > 1e-12 && (!split || gain > split.gain)) split = { a, b, gain };
          }
        }
      }
      if (!split) {
        tree.value[node] = o.learningRate * leafQuantile(members, f, Y, k, q);
        return node;
      }
      const { a, b } = split;
      const l = members.filter((i) => binned[i * d + a]! <= b);
      const r = members.filter((i) => binned[i * d + a]! > b);
      tree.feature[node] = a;
      tree.threshold[node] = thresholds[a]![b]!;
      tree.left[node] = grow(l, depth + 1);
      tree.right[node] = grow(r, depth + 1);
      return node;
    };
    grow(chosen, 0);
    for (let i = 0; i < rows; i++) f[i]! += predictTree(tree, X, i * d);
    trees.push(tree);
  }
  return trees;
}

export function predictTree(tree: QuantileTree, x: ArrayLike<number>, offset = 0): number {
  let node = 0;
  while (tree.feature[node]! >= 0) node = x[offset + tree.feature[node]!]! <= tree.threshold[node]! ? tree.left[node]! : tree.right[node]!;
  return tree.value[node]!;
}

export function predictTrees(trees: readonly QuantileTree[], x: ArrayLike<number>, offset = 0): number {
  let s = 0;
  for (const t of trees) s += predictTree(t, x, offset);
  return s;
}

/** Checks a loaded tree's shape (hostile model files): indices in range, finite numbers, no cycles (children after parents). */
export function isQuantileTree(v: unknown, dims: number): v is QuantileTree {
  if (typeof v !== 'object' || v === null) return false;
  const t = v as Record<string, unknown>;
  const keys = ['feature', 'threshold', 'left', 'right', 'value'] as const;
  if (!keys.every((key) => Array.isArray(t[key]) && (t[key] as unknown[]).every((x) => typeof x === 'number' && Number.isFinite(x)))) return false;
  const n = (t.feature as number[]).length;
  if (n === 0 || !keys.every((key) => (t[key] as number[]).length === n)) return false;
  const [feature, left, right] = [t.feature as number[], t.left as number[], t.right as number[]];
  for (let i = 0; i < n; i++) {
    if (feature[i]! < 0) continue;
    if (!Number.isInteger(feature[i]) || feature[i]! >= dims) return false;
    for (const c of [left[i]!, right[i]!]) if (!Number.isInteger(c) || c <= i || c >= n) return false;
  }
  return true;
}

function binOf(t: Float64Array, x: number): number {
  // The number of thresholds below x: x ≤ t[b] ⇔ bin ≤ b.
  let lo = 0;
  let hi = t.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (t[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function leafQuantile(members: readonly number[], f: Float64Array, Y: Float32Array, k: number, q: number): number {
  if (members.length === 0) return 0;
  const r = new Float64Array(members.length * k);
  let n = 0;
  for (const i of members) for (let j = 0; j < k; j++) r[n++] = Y[i * k + j]! - f[i]!;
  r.sort();
  return r[Math.min(n - 1, Math.max(0, Math.ceil(n * q) - 1))]!;
}
