import assert from 'node:assert/strict';
import { test } from 'node:test';
import { blockFeatures, resourceFeatures, sequenceBlocks, staticFeatureNames } from './features.js';

const stat = (s: Float64Array, t: number): Record<string, number> => {
  const seq = new Float32Array(sequenceBlocks * blockFeatures);
  const out = new Float32Array(staticFeatureNames.length);
  resourceFeatures(s, t, seq, 0, out, 0);
  return Object.fromEntries(staticFeatureNames.map((n, i) => [n, out[i]! * 100]));
};

test('half-day windows and the realized cost of the day-ahead rules, from the past only', () => {
  // Four days: busy at 80 % for days 0–2, then idle at 2 % from day 3 on; origin t at day 3.5.
  const day = 288;
  const s = Float64Array.from({ length: 5 * day }, (_, i) => (i < 3 * day ? 80 : 2));
  const t = 3 * day + 144;
  const f = stat(s, t);
  // Idle for the last 12 hours: the half-day maxima know it, the day's p95 does not.
  assert.ok(Math.abs(f.max144! - 2) < 1e-4 && Math.abs(f.max72! - 2) < 1e-4 && Math.abs(f.p95_144! - 2) < 1e-4);
  assert.ok(Math.abs(f.p95_288! - 80) < 1e-4);
  // A day ago (t − 288, inside the busy days) every rule said 80; since then 144 steps at 80 and
  // 144 at 2 were used: no misses, waste = (144 × 0 + 144 × 78) / 288 = 39.
  for (const rule of ['p95_288', 'p95_864', 'max144']) {
    assert.ok(Math.abs(f[`waste_${rule}`]! - 39) < 1e-3, `waste_${rule} ${f[`waste_${rule}`]}`);
    assert.ok(Math.abs(f[`miss_${rule}`]!) < 1e-6, `miss_${rule} ${f[`miss_${rule}`]}`);
  }
  // Busy again right after the origin: features read series[0 .. t−1] only.
  const changed = Float64Array.from(s, (v, i) => (i >= t ? 100 : v));
  assert.deepEqual(stat(changed, t), f);
  // An allocation that was too low a day ago shows up as misses: from idle to busy.
  const rising = Float64Array.from({ length: 3 * day }, (_, i) => (i < day ? 2 : 80));
  const r = stat(rising, 2 * day);
  assert.ok(Math.abs(r.miss_p95_288! - 100) < 1e-4 && Math.abs(r.waste_p95_288!) < 1e-4);
});
