import assert from 'node:assert/strict';
import { test } from 'node:test';
import { scheduleBuilds } from './build-schedule.js';
import { replayTiming } from './evaluate-timing.js';
import { hybridHistogram, keepAlive } from './timing-policies.js';

const minutes = (m: number): number => m * 60;
// `a` is back every 2 hours, `b` every 4 (both end sessions together every 4 hours): a 3-hour keep-alive serves a, never b.
const streams = new Map([
  ['b', Array.from({ length: 75 }, (_, i) => minutes(240 * i))],
  ['a', Array.from({ length: 150 }, (_, i) => minutes(120 * i))],
]);

test('with workers to spare and short builds, a hit is a warm start of the replay', () => {
  for (const policy of [keepAlive(180), hybridHistogram()]) {
    const [replay] = replayTiming(streams, [policy]);
    const r = scheduleBuilds(streams, policy, { workers: 4, buildMinutes: 0.2, order: 'earliest-deadline' });
    assert.equal(r.sessions, replay!.sessions);
    assert.ok(Math.abs(r.hitRate - (1 - replay!.coldStartRate)) < 1e-12, `${r.hitRate} vs ${1 - replay!.coldStartRate}`);
    assert.equal(r.missedForWorkers, 0);
  }
});

test('one worker and long builds: building for the client most likely to come first serves more sessions and wastes less', () => {
  const options = { workers: 1, buildMinutes: 100 } as const;
  const deadline = scheduleBuilds(streams, keepAlive(180), { ...options, order: 'earliest-deadline' });
  const expected = scheduleBuilds(streams, keepAlive(180), { ...options, order: 'most-expected' });
  assert.ok(expected.hitRate > deadline.hitRate, `${expected.hitRate} vs ${deadline.hitRate}`);
  assert.ok(expected.wastedShare < deadline.wastedShare, `${expected.wastedShare} vs ${deadline.wastedShare}`);
  assert.equal(expected.medianLeadMinutes, 20, 'built in the 100 minutes after a session, used 120 after it');
  assert.ok(deadline.missedForWorkers > 0);
});

test('a session the policy named no window for counts, and is never a hit', () => {
  // Windows for `a` only: `b`'s sessions are scored with nothing built for them.
  let subject = 0;
  const someWindows = {
    id: 'a-only',
    create: () => {
      const mine = subject++ === 1;
      return { window: () => ({ from: 0, to: 180 }), intervals: () => (mine ? [{ from: 0, to: 180 }] : []), observe: () => {} };
    },
  };
  const r = scheduleBuilds(streams, someWindows, { workers: 4, buildMinutes: 0.2, order: 'earliest-deadline' });
  assert.equal(r.sessions, 74 + 149);
  assert.equal(r.builds, 149);
  assert.ok(Math.abs(r.hitRate - 149 / (74 + 149)) < 1e-12, `${r.hitRate}`);
  assert.equal(r.wastedShare, 0);
});
