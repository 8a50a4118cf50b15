import assert from 'node:assert/strict';
import { test } from 'node:test';
import { allocate, allocationFigures, marginFor, pinball, ResourceScore, type AllocationCase } from './metrics.js';
import { windowQuantile } from './window-stats.js';

test('pinball loss weighs misses above the forecast by q and below by 1 − q', () => {
  assert.equal(pinball(10, 8, 0.95), 0.95 * 2);
  assert.ok(Math.abs(pinball(8, 10, 0.95) - 0.05 * 2) < 1e-12);
  // The horizon's own p95 minimises the mean pinball loss over that horizon.
  const s = Float64Array.from({ length: 100 }, (_, i) => (i * 37) % 100);
  const score = (f: number): number => {
    const r = new ResourceScore();
    r.add(s, 0, 100, f, 0.95);
    return r.pinball;
  };
  const p95 = windowQuantile(s, 0, 100, 0.95);
  assert.ok(score(p95) <= score(p95 - 3) && score(p95) <= score(p95 + 3));
});

test('the tuned margin meets the target under-provisioning and no smaller margin does', () => {
  const cases: AllocationCase[] = [];
  for (let c = 0; c < 50; c++) cases.push({ forecast: 20 + (c % 7), actual: Float64Array.from({ length: 12 }, (_, i) => 10 + ((c * 13 + i * 7) % 30)) });
  const m = marginFor(cases, 0.05);
  const at = allocationFigures(cases, m);
  assert.ok(at.underProvisioningRate <= 0.05, `rate ${at.underProvisioningRate}`);
  assert.ok(allocationFigures(cases, m - 0.5).underProvisioningRate > 0.05);
  assert.ok(allocationFigures(cases, m + 5).waste > at.waste);
  assert.equal(allocate(0, -5), 1, 'a VM always gets the floor');
  assert.equal(allocate(99, 10), 100, 'never more than the capacity');
});
