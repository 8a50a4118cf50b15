import { AbortedError, ValidationError } from '../../core/errors.js';
import { seededRandom } from '../../core/seeded-random.js';
import type { QuantileRegressionData } from './quantile-regression.js';
import { binFeatures, growTree, predictTree, type RegressionTree } from './regression-tree.js';

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

export function fitBoostedQuantileTrees(data: QuantileRegressionData, start: Float64Array, overrides: Partial<BoostedTreesOptions> & { quantile: number }): RegressionTree[] {
  const o = { ...defaultBoostedTreesOptions, ...overrides };
  const { features: X, dims: d, targets: Y, targetsPerRow: k } = data;
  const rows = Math.floor(X.length / d);
  if (start.length !== rows) throw new ValidationError('start', `one starting forecast per row (${rows}), got ${start.length}`);
  const q = o.quantile;
  const rnd = seededRandom(o.seed);
  // Each feature's thresholds are quantiles of a sample of its values.
  const binned = binFeatures(X, d, rows, o.bins, (a) => {
    const sample = new Float64Array(Math.min(rows, 4096));
    for (let i = 0; i < sample.length; i++) sample[i] = X[Math.floor(rnd() * rows) * d + a]!;
    return sample.sort();
  });
  const f = Float64Array.from(start);
  const gradient = new Float64Array(rows);
  const trees: RegressionTree[] = [];
  for (let n = 0; n < o.trees; n++) {
    if (o.signal?.aborted) throw new AbortedError('fitting boosted quantile trees');
    const chosen: number[] = [];
    for (let i = 0; i < rows; i++) if (rnd() < o.subsample) chosen.push(i);
    for (const i of chosen) {
      let below = 0;
      for (let j = 0; j < k; j++) if (Y[i * k + j]! < f[i]!) below++;
      gradient[i] = q - below / k;
    }
    const tree = growTree(binned, gradient, chosen, { depth: o.depth, minLeafRows: o.minLeafRows, leaf: (members) => o.learningRate * leafQuantile(members, f, Y, k, q) });
    for (let i = 0; i < rows; i++) f[i]! += predictTree(tree, X, i * d);
    trees.push(tree);
  }
  return trees;
}

function leafQuantile(members: readonly number[], f: Float64Array, Y: Float32Array, k: number, q: number): number {
  if (members.length === 0) return 0;
  const r = new Float64Array(members.length * k);
  let n = 0;
  for (const i of members) for (let j = 0; j < k; j++) r[n++] = Y[i * k + j]! - f[i]!;
  r.sort();
  return r[Math.min(n - 1, Math.max(0, Math.ceil(n * q) - 1))]!;
}
