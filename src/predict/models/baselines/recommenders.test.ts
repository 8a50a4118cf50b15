import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createResourceBaseline } from './resource-baselines.js';

const at = (id: Parameters<typeof createResourceBaseline>[0], series: Float64Array, origins: number[]): number[] => [...createResourceBaseline(id).predict({ series, origins, horizon: 12 })];

test('VPA: p90 of the decayed histogram plus 15 %, read at the upper bound of its bucket', () => {
  // 95 % of the samples at 10, 5 % at 50: p90 is in the bucket of 10, whose upper bound is within 5 % of it.
  const s = Float64Array.from({ length: 1000 }, (_, i) => (i % 20 === 19 ? 50 : 10));
  const [v] = at('vpa-samples', s, [1000]);
  assert.ok(v! >= 10 * 1.15 && v! <= 10 * 1.05 * 1.15 + 1e-9, `vpa ${v}`);
  // A burst long ago decays away; the same burst yesterday still counts (24 h half-life).
  const old = Float64Array.from({ length: 288 * 10 }, (_, i) => (i < 288 ? 80 : 5));
  const recent = Float64Array.from({ length: 288 * 10 }, (_, i) => (i >= 288 * 9 ? 80 : 5));
  assert.ok(at('vpa-samples', old, [old.length])[0]! < 10, 'a 9-day-old day at 80 % weighs 1/512');
  assert.ok(at('vpa-samples', recent, [recent.length])[0]! > 80, 'yesterday at 80 % is half the weight');
});

test('VPA memory: daily peaks over 8 days; Autopilot: decayed p95 and the 24 h peak', () => {
  // One short spike a day at 60 % on a 20 % floor: VPA's memory rule sees the peaks, not the floor.
  const s = Float64Array.from({ length: 288 * 9 }, (_, i) => (i % 288 === 100 ? 60 : 20));
  assert.ok(at('vpa-daily-peaks', s, [s.length])[0]! >= 60 * 1.15);
  assert.ok(at('vpa-samples', s, [s.length])[0]! < 30);
  assert.equal(at('autopilot-max', s, [s.length])[0], 60);
  assert.ok(at('autopilot-p95', s, [s.length])[0]! < 25);
});

test('the recommenders read only the past of each origin, in any order of origins', () => {
  const s = Float64Array.from({ length: 2000 }, (_, i) => (i * 7919) % 97);
  const changed = s.slice();
  changed.fill(1000, 1500);
  for (const id of ['vpa-samples', 'vpa-daily-peaks', 'autopilot-p95', 'autopilot-max'] as const) {
    assert.deepEqual(at(id, changed, [700, 1500]), at(id, s, [700, 1500]), id);
    assert.deepEqual(at(id, s, [1500, 700]), [...at(id, s, [1500]), ...at(id, s, [700])], `${id}: origins out of order`);
  }
});
