import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '../../core/seeded-random.js';
import { ValidationError } from '../../core/errors.js';
import { loadResourceModel } from '../model-catalog.js';
import { createResourceBaseline } from '../models/baselines/resource-baselines.js';
import { createPooledForecaster } from './pooled-forecaster.js';
import { createPooledMedian, pooledMedianId, pooledMedianRules } from './pooled-median.js';

function vm(level: number, seed: number): Float64Array {
  const rnd = seededRandom(seed);
  return Float64Array.from({ length: 288 * 6 }, (_, t) => Math.min(100, level * (t % 288 > 144 ? 2 : 1) + 10 * rnd()));
}

test('pooled-median forecasts the median of the pooled regression and the two decayed recommenders, and loads from the catalogue', async () => {
  const data = [vm(10, 1), vm(20, 2), vm(30, 3)];
  const median = createPooledMedian({ horizons: [12, 288] });
  const pooled = createPooledForecaster({ horizons: [12, 288] });
  await median.fit(data);
  await pooled.fit(data);
  const query = { series: vm(25, 9), origins: [288 * 5, 288 * 5 + 50, 288 * 5 + 100], horizon: 288 };
  const f = median.predict(query);
  const members = [pooled.predict(query), ...pooledMedianRules.map((id) => createResourceBaseline(id).predict(query))];
  f.forEach((v, i) => assert.equal(v, members.map((m) => m[i]!).sort((a, b) => a - b)[1]));
  const copy = await loadResourceModel(await median.save());
  assert.equal(copy.id, pooledMedianId);
  assert.deepEqual([...copy.predict(query)], [...f]);
  await assert.rejects(copy.load({ id: pooledMedianId, version: '1', state: {} }), (e: unknown) => e instanceof ValidationError && e.field === 'state.pooled');
});
