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

test('the tuned margin accounts for the floor: forecasts near it are not charged margin they do not need', () => {
  // Half the cases forecast 0 and use 0.9: the 1 % floor covers them whatever the margin. The
  // plain quantile of use − forecast counts them as misses below a margin of 0.9 and so lands
  // there; the exact search sees that only the other half can miss.
  const cases: AllocationCase[] = [
    ...Array.from({ length: 50 }, () => ({ forecast: 0, actual: Float64Array.of(0.9) })),
    ...Array.from({ length: 50 }, (_, i) => ({ forecast: 10, actual: Float64Array.of(10 + i / 100) })),
  ];
  const m = marginFor(cases, 0.05);
  const at = allocationFigures(cases, m);
  assert.ok(at.underProvisioningRate <= 0.05, `rate ${at.underProvisioningRate}`);
  assert.ok(m > 0.43 && m < 0.45, `margin ${m}`);
  assert.ok(allocationFigures(cases, m - 0.02).underProvisioningRate > 0.05, 'no smaller margin will do');
  assert.ok(at.waste < allocationFigures(cases, 0.9).waste);
});

test('allocation figures count the series that are under-provisioned more than 10 % of the time', () => {
  const cases: AllocationCase[] = [
    { forecast: 10, actual: Float64Array.from([5, 5, 5, 50]), subject: 0 },
    { forecast: 10, actual: Float64Array.from([5, 5, 5, 5]), subject: 1 },
    { forecast: 10, actual: Float64Array.from([5, 5, 5, 5]), subject: 1 },
  ];
  const f = allocationFigures(cases, 0);
  assert.equal(f.subjectsOver10Percent, 1);
  assert.equal(f.underProvisioningRate, 1 / 12);
});
