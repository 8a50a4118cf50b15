import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '../../core/seeded-random.js';
import { ValidationError } from '../../core/errors.js';
import { pinball } from '../metrics.js';
import { createPooledForecaster } from './pooled-forecaster.js';
import { fitQuantileRegression } from './quantile-regression.js';

test('quantile regression finds the conditional p95 of a linear model with skewed noise', () => {
  const rnd = seededRandom(1);
  const rows = 20_000;
  const k = 4;
  const features = new Float32Array(rows * 2);
  const targets = new Float32Array(rows * k);
  for (let i = 0; i < rows; i++) {
    const x = rnd();
    features[i * 2] = 1;
    features[i * 2 + 1] = x;
    // y = 0.02 + 0.3 x + 0.1 x · Exp(1): its p95 is 0.02 + (0.3 + 0.1 ln 20) x.
    for (let j = 0; j < k; j++) targets[i * k + j] = 0.02 + 0.3 * x + 0.1 * x * -Math.log(1 - rnd());
  }
  const beta = fitQuantileRegression({ features, dims: 2, targets, targetsPerRow: k }, { quantile: 0.95, iterations: 100 });
  assert.ok(Math.abs(beta[0]! - 0.02) < 0.01, `intercept ${beta[0]}`);
  assert.ok(Math.abs(beta[1]! - (0.3 + 0.1 * Math.log(20))) < 0.02, `slope ${beta[1]}`);
});

/** Rates of very different sizes with the same shape: what pooling must carry across machines. */
function rateSeries(scale: number, seed: number): Float64Array {
  const rnd = seededRandom(seed);
  return Float64Array.from({ length: 288 * 6 }, (_, t) => scale * (1 + ((t % 288) > 144 ? 4 : 0) + rnd()));
}

test('a pooled rate forecaster serves a machine 1000× larger than those it was fitted on, and saves and loads', async () => {
  const m = createPooledForecaster({ unit: 'rate', horizons: [12] });
  await m.fit([rateSeries(1, 1), rateSeries(2, 2), rateSeries(3, 3)]);
  const unseen = rateSeries(1000, 9);
  const origins = [288 * 5, 288 * 5 + 100, 288 * 5 + 200];
  const f = m.predict({ series: unseen, origins, horizon: 12 });
  let loss = 0;
  let lastLoss = 0;
  origins.forEach((t, i) => {
    for (let h = 0; h < 12; h++) {
      loss += pinball(unseen[t + h]!, f[i]!, 0.95);
      lastLoss += pinball(unseen[t + h]!, unseen[t - 1]!, 0.95);
    }
  });
  assert.ok(loss < lastLoss, `pooled ${loss} vs last value ${lastLoss}`);
  assert.ok(f.every((v) => v > 500 && v < 8000), `forecasts in the machine's own scale: ${[...f]}`);
  const copy = createPooledForecaster({ unit: 'rate', horizons: [12] });
  await copy.load(await m.save());
  assert.deepEqual([...copy.predict({ series: unseen, origins, horizon: 12 })], [...f]);
  assert.throws(() => m.predict({ series: unseen, origins, horizon: 288 }), ValidationError);
  const saved = await m.save();
  await assert.rejects(copy.load({ ...saved, state: { coefficients: { 12: [1, 'x'] } } }), (e: unknown) => e instanceof ValidationError && e.field === 'state.coefficients.12');
});
