import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ValidationError } from '../../core/errors.js';
import { seededRandom } from '../../core/seeded-random.js';
import { loadResourceModel } from '../model-catalog.js';
import { autopilot, decayedQuantiles } from '../models/baselines/recommenders.js';
import { createResourceBaseline } from '../models/baselines/resource-baselines.js';
import { forecastCandidates } from './forecast-selection.js';
import { createPooledForecaster } from './pooled-forecaster.js';
import { createPooledMedian, pooledMedian, pooledMedianFive } from './pooled-median.js';

function vm(level: number, seed: number): Float64Array {
  const rnd = seededRandom(seed);
  return Float64Array.from({ length: 288 * 6 }, (_, t) => Math.min(100, level * (t % 288 > 144 ? 2 : 1) + 10 * rnd()));
}

test('pooled-median forecasts the median of the pooled regression and the two decayed recommenders, and loads from the catalogue', async () => {
  const data = [vm(10, 1), vm(20, 2), vm(30, 3)];
  const median = createPooledMedian(pooledMedian, { horizons: [12, 288] });
  const pooled = createPooledForecaster({ horizons: [12, 288] });
  await median.fit(data);
  await pooled.fit(data);
  const query = { series: vm(25, 9), origins: [288 * 5, 288 * 5 + 50, 288 * 5 + 100], horizon: 288 };
  const f = median.predict(query);
  const members = [pooled.predict(query), ...pooledMedian.rules.map((id) => createResourceBaseline(id).predict(query))];
  f.forEach((v, i) => assert.equal(v, members.map((m) => m[i]!).sort((a, b) => a - b)[1]));
  const copy = await loadResourceModel(await median.save());
  assert.equal(copy.id, pooledMedian.id);
  assert.deepEqual([...copy.predict(query)], [...f]);
  await assert.rejects(copy.load({ id: pooledMedian.id, version: '1', state: {} }), (e: unknown) => e instanceof ValidationError && e.field === 'state.pooled');
});

/** A VM whose memory steps: a level that moves up or down every other day, with noise. */
function steppingVm(level: number, seed: number): Float64Array {
  const rnd = seededRandom(seed);
  return Float64Array.from({ length: 288 * 6 }, (_, t) => Math.min(100, level * (Math.floor(t / 576) % 2 ? 1.6 : 1) + 5 * rnd() + (rnd() < 0.01 ? 30 : 0)));
}

test('pooled-median-5 forecasts the median of the pooled regression, three rules and the decayed p98, and loads from the catalogue', async () => {
  const data = [steppingVm(10, 1), steppingVm(20, 2), steppingVm(40, 3)];
  const median = createPooledMedian(pooledMedianFive, { horizons: [12, 288] });
  const pooled = createPooledForecaster({ horizons: [12, 288] });
  await median.fit(data);
  await pooled.fit(data);
  const query = { series: steppingVm(25, 9), origins: [288 * 4, 288 * 4 + 50, 288 * 4 + 300], horizon: 288 };
  const f = median.predict(query);
  const members = [
    pooled.predict(query),
    ...pooledMedianFive.rules.map((id) => createResourceBaseline(id).predict(query)),
    decayedQuantiles(query.series, query.origins, autopilot.halfLifeSteps, pooledMedianFive.decayedQuantile),
  ];
  f.forEach((v, i) => {
    const sorted = members.map((m) => m[i]!).sort((a, b) => a - b);
    assert.equal(v, sorted[2]);
    // The five are not all the same number, so the median is a choice among them.
    assert.ok(sorted[4]! > sorted[0]!, `origin ${i}: ${sorted.join(', ')}`);
  });
  const copy = await loadResourceModel(await median.save());
  assert.equal(copy.id, pooledMedianFive.id);
  assert.deepEqual([...copy.predict(query)], [...f]);
  await assert.rejects(copy.load({ id: pooledMedianFive.id, version: '1', state: {} }), (e: unknown) => e instanceof ValidationError && e.field === 'state.pooled');
  await assert.rejects(copy.load({ id: 'pooled-median', version: '1', state: {} }), (e: unknown) => e instanceof ValidationError && e.field === 'model');
});

test('pooled-median-5 is a trained candidate of the selection', () => {
  const c = forecastCandidates('percent', [12, 288]).find((x) => x.id === pooledMedianFive.id);
  assert.ok(c?.trained);
  assert.equal(c.create().id, pooledMedianFive.id);
});

test('on the same data array the pooled regression is fitted once: the medians read its coefficients, a copy of the data fits anew', async () => {
  const data = [vm(10, 1), vm(20, 2), vm(30, 3)];
  const first = await createPooledForecaster({ horizons: [12, 288] }).fit(data);
  assert.equal(first.details['reused'], undefined);
  const median = createPooledMedian(pooledMedian, { horizons: [12, 288] });
  assert.equal((await median.fit(data)).details['reused'], 'the same fit on the same data');
  const fresh = createPooledMedian(pooledMedian, { horizons: [12, 288] });
  assert.equal((await fresh.fit(data.map((s) => s.slice()))).details['reused'], undefined);
  const other = createPooledForecaster({ horizons: [12] });
  assert.equal((await other.fit(data)).details['reused'], undefined, 'other options are another fit');
  const query = { series: vm(25, 9), origins: [288 * 5, 288 * 5 + 50], horizon: 288 };
  assert.deepEqual([...median.predict(query)], [...fresh.predict(query)]);
});
