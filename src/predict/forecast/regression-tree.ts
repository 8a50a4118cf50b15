/**
 * One regression tree of a gradient-boosted ensemble (Friedman 2001), grown on per-feature
 * quantile bins: each split is the one that most reduces the squared error of a per-row
 * gradient (histograms, so a level costs one pass over its rows), and each leaf's value is the
 * caller's — the exact quantile of the residuals for quantile boosting, their mean for least
 * squares. The ensembles (boosted-quantile-trees, the day chooser's loss regressions) differ
 * only in their gradient and their leaf.
 */

/** One tree as flat arrays: node i splits on feature[i] at threshold[i] (x ≤ threshold goes left) or, when feature[i] < 0, is a leaf worth value[i]. */
export interface RegressionTree {
  feature: number[];
  threshold: number[];
  left: number[];
  right: number[];
  value: number[];
}

/** Rows' features as bin numbers: binned[i·d + a] is how many of feature a's thresholds lie below row i's value. */
export interface BinnedFeatures {
  readonly dims: number;
  readonly bins: number;
  readonly thresholds: readonly Float64Array[];
  readonly binned: Uint8Array;
}

/**
 * Bins every row; `sorted(a)` gives feature a's values (a sample or all of them) in increasing
 * order, and the thresholds are its bins − 1 quantiles, duplicates dropped.
 */
export function binFeatures(X: ArrayLike<number>, dims: number, rows: number, bins: number, sorted: (a: number) => ArrayLike<number>): BinnedFeatures {
  const thresholds: Float64Array[] = [];
  const binned = new Uint8Array(rows * dims);
  for (let a = 0; a < dims; a++) {
    const s = sorted(a);
    const t: number[] = [];
    for (let b = 1; b < bins; b++) {
      const v = s[Math.floor((b * s.length) / bins)]!;
      if (t.length === 0 || v > t[t.length - 1]!) t.push(v);
    }
    const th = Float64Array.from(t);
    thresholds.push(th);
    for (let i = 0; i < rows; i++) binned[i * dims + a] = binOf(th, X[i * dims + a]!);
  }
  return { dims, bins, thresholds, binned };
}

export interface GrowOptions {
  depth: number;
  /** No leaf holds fewer rows. */
  minLeafRows: number;
  /** The value of a leaf holding `members` (the learning rate applied). */
  leaf: (members: readonly number[]) => number;
}

/** Grows one tree on `members` (row indices) by least squares on `gradient`. */
export function growTree(data: BinnedFeatures, gradient: ArrayLike<number>, members: number[], options: GrowOptions): RegressionTree {
  const { dims: d, bins, thresholds, binned } = data;
  const sums = new Float64Array(d * bins);
  const counts = new Float64Array(d * bins);
  const tree: RegressionTree = { feature: [], threshold: [], left: [], right: [], value: [] };
  const grow = (rows: number[], depth: number): number => {
    const node = tree.feature.length;
    tree.feature.push(-1), tree.threshold.push(0), tree.left.push(-1), tree.right.push(-1), tree.value.push(0);
    let split: { a: number; b: number; gain: number } | undefined;
    if (depth < options.depth && rows.length >= 2 * options.minLeafRows) {
      sums.fill(0);
      counts.fill(0);
      let total = 0;
      for (const i of rows) {
        const g = gradient[i]!;
        total += g;
        for (let a = 0; a < d; a++) {
          const c = a * bins + binned[i * d + a]!;
          sums[c]! += g;
          counts[c]!++;
        }
      }
      const base = (total * total) / rows.length;
      for (let a = 0; a < d; a++) {
        let sl = 0;
        let nl = 0;
        for (let b = 0; b < thresholds[a]!.length; b++) {
          sl += sums[a * bins + b]!;
          nl += counts[a * bins + b]!;
          const nr = rows.length - nl;
          if (nl < options.minLeafRows || nr < options.minLeafRows) continue;
          const sr = total - sl;
          const gain = (sl * sl) / nl + (sr * sr) / nr - base;
          if (gain > 1e-12 && (!split || gain > split.gain)) split = { a, b, gain };
        }
      }
    }
    if (!split) {
      tree.value[node] = options.leaf(rows);
      return node;
    }
    const { a, b } = split;
    const l = rows.filter((i) => binned[i * d + a]! <= b);
    const r = rows.filter((i) => binned[i * d + a]! > b);
    tree.feature[node] = a;
    tree.threshold[node] = thresholds[a]![b]!;
    tree.left[node] = grow(l, depth + 1);
    tree.right[node] = grow(r, depth + 1);
    return node;
  };
  grow(members, 0);
  return tree;
}

export function predictTree(tree: RegressionTree, x: ArrayLike<number>, offset = 0): number {
  let node = 0;
  while (tree.feature[node]! >= 0) node = x[offset + tree.feature[node]!]! <= tree.threshold[node]! ? tree.left[node]! : tree.right[node]!;
  return tree.value[node]!;
}

export function predictTrees(trees: readonly RegressionTree[], x: ArrayLike<number>, offset = 0): number {
  let s = 0;
  for (const t of trees) s += predictTree(t, x, offset);
  return s;
}

/** Checks a loaded tree's shape (hostile model files): indices in range, finite numbers, no cycles (children after parents). */
export function isRegressionTree(v: unknown, dims: number): v is RegressionTree {
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
