import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { budgetController } from './budget-controller.js';
import { replayTiming, trainingPartOf } from './evaluate-timing.js';
import { hazardWindow, pooledHazard } from './hazard-window.js';
import { replayInTime } from './replay-in-time.js';
import { readRequestLog } from './request-streams.js';
import { requestStreamFiles } from '../../../test/support/datasets.js';
import { perSubjectPolicies, streamsOf } from '../../../test/support/synthetic-streams.js';

test('the time-ordered replay gives exactly replayTiming’s figures for policies that learn per subject', () => {
  const { times, programs } = streamsOf(12, 150, 7);
  const policies = perSubjectPolicies(times);
  for (const scoreFrom of [-Infinity, 60 * 86_400]) {
    const expected = replayTiming(times, policies, scoreFrom, programs);
    const got = policies.map((p) => replayInTime(times, p, { scoreFrom, programs }));
    assert.deepEqual(got, expected);
    assert.ok(expected.every((r) => r.sessions > 0));
  }
});

const traces = requestStreamFiles.map((f) => [f.path, f.format] as const);
for (const [path, format] of traces)
  test(`${format}: the time-ordered replay reproduces replayTiming on the real stream, test part and whole trace`, { skip: existsSync(path) ? false : `needs ${path} (the shared datasets)` }, async () => {
    const log = await readRequestLog(path, format);
    const { splitAt, training } = trainingPartOf(log.times);
    const policies = perSubjectPolicies(training);
    for (const scoreFrom of [splitAt, -Infinity]) {
      const expected = replayTiming(log.times, policies, scoreFrom, log.programs);
      assert.deepEqual(
        policies.map((p) => replayInTime(log.times, p, { scoreFrom, programs: log.programs })),
        expected,
      );
    }
  });

test('the budget controller: when the budget changes half-way, the spending follows it', () => {
  const { times } = streamsOf(40, 300, 11);
  let lastStart = 0;
  for (const t of times.values()) lastStart = Math.max(lastStart, t[t.length - 1]!);
  const mid = lastStart / 2;
  const budgetAt = (s: number): number => (s < mid ? 30 : 120);
  const controller = budgetController({ gain: 0.003, windowSessions: 300, startThreshold: 0.003 });
  const settled: { atSeconds: number; spentMinutes: number; threshold: number }[] = [];
  const policy = hazardWindow(controller.threshold, { prior: pooledHazard(times) });
  const r = replayInTime(times, policy, { budget: { controller, minutesPerSession: budgetAt }, onSettle: (s) => settled.push(s) });
  assert.ok(r.sessions > 10_000);
  assert.ok(settled.every((s, i) => i === 0 || s.atSeconds >= settled[i - 1]!.atSeconds), 'settled in time order');
  // The second half of each half (the controller has had time to follow): spending within 15 % of its budget.
  const meanSpent = (from: number, to: number): number => {
    const xs = settled.filter((s) => s.atSeconds >= from && s.atSeconds < to);
    return xs.reduce((a, s) => a + s.spentMinutes, 0) / xs.length;
  };
  const before = meanSpent(mid / 2, mid);
  const after = meanSpent(mid + mid / 2, lastStart + 1);
  assert.ok(Math.abs(before / 30 - 1) < 0.15, `spent ${before.toFixed(1)} min/session against a budget of 30`);
  assert.ok(Math.abs(after / 120 - 1) < 0.15, `spent ${after.toFixed(1)} min/session against a budget of 120`);
  const thresholdAt = (at: number): number => settled.filter((s) => s.atSeconds < at).at(-1)!.threshold;
  assert.ok(thresholdAt(lastStart) < thresholdAt(mid) / 2, `threshold ${thresholdAt(mid)} → ${thresholdAt(lastStart)}: a larger budget lowers it`);
  // A fixed threshold cannot follow: the one the controller reached before the change spends about the same in both halves.
  const fixedSettled: { atSeconds: number; spentMinutes: number }[] = [];
  const probe = budgetController({ gain: 0, windowSessions: 300, startThreshold: thresholdAt(mid) });
  replayInTime(times, hazardWindow(probe.threshold, { prior: pooledHazard(times) }), { budget: { controller: probe, minutesPerSession: 1 }, onSettle: (s) => fixedSettled.push(s) });
  const fixedAfter = fixedSettled.filter((s) => s.atSeconds >= mid + mid / 2);
  const fixedMean = fixedAfter.reduce((a, s) => a + s.spentMinutes, 0) / fixedAfter.length;
  assert.ok(fixedMean < 60, `a fixed threshold spends ${fixedMean.toFixed(1)} after the change`);
});
