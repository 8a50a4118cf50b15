import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { budgetController } from './budget-controller.js';
import { trainingPartOf } from './evaluate-timing.js';
import { buildOrders, scheduleBuilds } from './build-schedule.js';
import { hazardWindow, pooledHazard } from './hazard-window.js';
import { replayInTime } from './replay-in-time.js';
import { readRequestLog } from './request-streams.js';
import { scheduleBuildsInTime } from './schedule-builds-in-time.js';
import { requestStreamFiles } from '../../../test/support/datasets.js';
import { perSubjectPolicies, streamsOf } from '../../../test/support/synthetic-streams.js';

test('builds from the time-ordered replay give exactly scheduleBuilds’ figures for policies that learn per subject', () => {
  const { times, programs } = streamsOf(12, 150, 7);
  const policies = perSubjectPolicies(times);
  let scarce = 0;
  for (const scoreFrom of [-Infinity, 60 * 86_400])
    for (const [workers, buildMinutes] of [
      [4, 0.2],
      [1, 30],
      [2, 100],
    ] as const)
      for (const order of buildOrders) {
        const options = { workers, buildMinutes, order, scoreFrom, programs };
        const expected = policies.map((p) => scheduleBuilds(times, p, options));
        assert.deepEqual(
          policies.map((p) => scheduleBuildsInTime(times, p, options)),
          expected,
          `${workers} workers, ${buildMinutes} min, ${order}, from ${scoreFrom}`,
        );
        assert.ok(expected.every((r) => r.sessions > 0) && expected.some((r) => r.builds > 0));
        for (const r of expected) scarce += r.missedForWorkers;
      }
  assert.ok(scarce > 0, 'some cases are short of workers, so the order of the builds is exercised');
});

const traces = requestStreamFiles.map((f) => [f.path, f.format] as const);
for (const [path, format] of traces)
  test(`${format}: the time-ordered builds reproduce scheduleBuilds on the real stream (test part, one worker, 30-minute builds)`, { skip: existsSync(path) ? false : `needs ${path} (the shared datasets)` }, async () => {
    const log = await readRequestLog(path, format);
    const { splitAt, training } = trainingPartOf(log.times);
    for (const p of perSubjectPolicies(training)) {
      const options = { workers: 1, buildMinutes: 30, order: 'most-expected', scoreFrom: splitAt, programs: log.programs } as const;
      assert.deepEqual(scheduleBuildsInTime(log.times, p, options), scheduleBuilds(log.times, p, options), p.id);
    }
  });

test('the budget controller’s builds: its windows as named at each moment, and a larger budget builds more that serve', () => {
  const { times } = streamsOf(40, 120, 11);
  const knobs = { gain: 0.003, windowSessions: 300, startThreshold: 0.003 };
  const prior = pooledHazard(times);
  const controlled = (minutesPerSession: number, build: { workers: number; buildMinutes: number }) => {
    const controller = budgetController(knobs);
    return scheduleBuildsInTime(times, hazardWindow(controller.threshold, { prior }), { ...build, order: 'most-expected', budget: { controller, minutesPerSession }, id: 'controlled' });
  };
  const ample = { workers: 8, buildMinutes: 0.1 };
  const thresholds: number[] = [];
  const controller = budgetController(knobs);
  const replay = replayInTime(times, hazardWindow(controller.threshold, { prior }), { budget: { controller, minutesPerSession: 30 }, onSettle: (s) => thresholds.push(s.threshold) });
  const small = controlled(30, ample);
  assert.equal(small.policy, 'controlled');
  assert.equal(small.sessions, replay.sessions);
  // With workers to spare and short builds every warm start of the controller's replay is a hit.
  assert.ok(Math.abs(small.hitRate - (1 - replay.coldStartRate)) < 1e-12, `${small.hitRate} vs ${1 - replay.coldStartRate}`);
  assert.equal(small.missedForWorkers, 0);
  // The threshold moved, and the builds followed it: the start threshold held fixed builds otherwise.
  assert.ok(Math.max(...thresholds) / Math.min(...thresholds) > 1.5, 'the controller moved the threshold');
  const fixed = scheduleBuilds(times, hazardWindow(knobs.startThreshold, { prior }), { ...ample, order: 'most-expected' });
  assert.notEqual(fixed.hitRate, small.hitRate);
  const large = controlled(120, ample);
  assert.ok(large.hitRate > small.hitRate + 0.05, `budget 120: ${large.hitRate}, budget 30: ${small.hitRate}`);
  // One worker and 30-minute builds: the controller's windows wait for it, as any policy's.
  const scarce = controlled(120, { workers: 1, buildMinutes: 30 });
  assert.ok(scarce.missedForWorkers > 0 && scarce.hitRate < large.hitRate, `${scarce.hitRate} hit, ${scarce.missedForWorkers} dropped`);
});
