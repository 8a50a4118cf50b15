import assert from 'node:assert/strict';
import { test } from 'node:test';
import { windowDue } from './proactive-scheduler.js';
import { habitHours, nextExpected } from './request-habits.js';

test('a habit is an hour of day seen on at least two days; the next one is the next start of such an hour', () => {
  const times = ['2026-11-01T09:10:00Z', '2026-11-02T09:50:00Z', '2026-11-02T09:55:00Z', '2026-11-01T15:00:00Z', '2026-11-03T22:30:00Z', '2026-11-04T22:05:00Z'].map((s) => new Date(s));
  assert.deepEqual(habitHours(times), [9, 22]);
  assert.equal(nextExpected([9, 22], new Date('2026-11-05T08:30:00Z'))?.toISOString(), '2026-11-05T09:00:00.000Z');
  assert.equal(nextExpected([9, 22], new Date('2026-11-05T23:00:00Z'))?.toISOString(), '2026-11-06T09:00:00.000Z');
  assert.equal(nextExpected([], new Date()), undefined);
  assert.deepEqual(habitHours(times.slice(0, 1)), []);
});

test('the hazard window wants the image ready again just before a client that returns every 6 hours', () => {
  const start = Date.UTC(2026, 10, 1, 0, 7);
  const times = Array.from({ length: 20 }, (_, i) => new Date(start + i * 6 * 3_600_000));
  const last = times[times.length - 1]!.getTime();
  const hour = 3_600_000;
  // Right after the session: the window opens hours later, beyond a 1 h lead.
  assert.equal(windowDue(times, new Date(last + 10 * 60_000), hour), undefined);
  // Within the lead of the learnt return (6 h after the end), it is due, and not before the window opens.
  const due = windowDue(times, new Date(last + 5.5 * hour), hour);
  assert.ok(due && due.getTime() >= last + 5.5 * hour && due.getTime() <= last + 6 * hour, String(due));
  // Long after the window closed: nothing to prepare.
  assert.equal(windowDue(times, new Date(last + 30 * hour), hour), undefined);
});
