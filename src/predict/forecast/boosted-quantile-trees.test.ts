import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '../../core/seeded-random.js';
import { pinball } from '../metrics.js';
import { fitBoostedQuantileTrees } from './boosted-quantile-trees.js';
import { isRegressionTree, predictTrees } from './regression-tree.js';
import { fitQuantileRegression, predictLinear } from './quantile-regression.js';

/** A step the linear regression cannot follow: a VM idle below x = 0.5 and busy above (memory's steps, batch runs). */
function stepData(rows: number, seed: number) {
  const rnd = seededRandom(seed);
  const k = 4;
  const features = new Float32Array(rows * 2);
  const targets = new Float32Array(rows * k);
  for (let i = 0; i < rows; i++) {
    const x = rnd();
    features[i * 2] = 1;
    features[i * 2 + 1] = x;
    for (let j = 0; j < k; j++) targets[i * k + j] = (x > 0.5 ? 0.6 : 0.1) + 0.05 * rnd();
  }
  return { features, dims: 2, targets, targetsPerRow: k };
}

function loss(data: ReturnType<typeof stepData>, forecast: (i: number) => number): number {
  let l = 0;
  const rows = data.features.length / data.dims;
  for (let i = 0; i < rows; i++) for (let j = 0; j < data.targetsPerRow; j++) l += pinball(data.targets[i * data.targetsPerRow + j]!, forecast(i), 0.95);
  return l / (rows * data.targetsPerRow);
}

test('quantile trees boosted from the linear fit learn a step it cannot, on rows they never saw', () => {
  const train = stepData(8_000, 1);
  const beta = fitQuantileRegression(train, { quantile: 0.95 });
  const start = Float64Array.from({ length: 8_000 }, (_, i) => predictLinear(beta, train.features, i * 2));
  const trees = fitBoostedQuantileTrees(train, start, { quantile: 0.95, trees: 150, depth: 2, minLeafRows: 100 });
  const test = stepData(4_000, 2);
  const linear = loss(test, (i) => predictLinear(beta, test.features, i * 2));
  const boosted = loss(test, (i) => predictLinear(beta, test.features, i * 2) + predictTrees(trees, test.features, i * 2));
  assert.ok(boosted < 0.5 * linear, `boosted ${boosted} vs linear ${linear}`);
  // Its p95 on each side of the step is near the truth (0.1 + 0.05 · 0.95 and 0.6 + 0.05 · 0.95).
  const at = (x: number): number => predictLinear(beta, [1, x]) + predictTrees(trees, [1, x]);
  assert.ok(Math.abs(at(0.25) - 0.1475) < 0.02 && Math.abs(at(0.75) - 0.6475) < 0.02, `${at(0.25)} ${at(0.75)}`);
  assert.ok(trees.every((t) => isRegressionTree(t, 2)));
});

test('a loaded tree must be well formed: children after their parent, features in range', () => {
  const leaf = { feature: [-1], threshold: [0], left: [-1], right: [-1], value: [0.1] };
  assert.ok(isRegressionTree(leaf, 3));
  assert.ok(!isRegressionTree({ feature: [0, -1, -1], threshold: [0.5, 0, 0], left: [0, -1, -1], right: [2, -1, -1], value: [0, 1, 2] }, 3), 'a cycle');
  assert.ok(!isRegressionTree({ feature: [5, -1, -1], threshold: [0.5, 0, 0], left: [1, -1, -1], right: [2, -1, -1], value: [0, 1, 2] }, 3), 'feature out of range');
  assert.ok(!isRegressionTree({ ...leaf, value: ['x'] }, 3));
  assert.ok(!isRegressionTree({ ...leaf, value: [] }, 3));
});
