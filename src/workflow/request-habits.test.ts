import assert from 'node:assert/strict';
import { test } from 'node:test';
import { habitHours, nextExpected } from './request-habits.js';

test('a habit is an hour of day seen on at least two days; the next one is the next start of such an hour', () => {
  const times = ['2026-11-01T09:10:00Z', '2026-11-02T09:50:00Z', '2026-11-02T09:55:00Z', '2026-11-01T15:00:00Z', '2026-11-03T22:30:00Z', '2026-11-04T22:05:00Z'].map((s) => new Date(s));
  assert.deepEqual(habitHours(times), [9, 22]);
  assert.equal(nextExpected([9, 22], new Date('2026-11-05T08:30:00Z'))?.toISOString(), '2026-11-05T09:00:00.000Z');
  assert.equal(nextExpected([9, 22], new Date('2026-11-05T23:00:00Z'))?.toISOString(), '2026-11-06T09:00:00.000Z');
  assert.equal(nextExpected([], new Date()), undefined);
  assert.deepEqual(habitHours(times.slice(0, 1)), []);
});
