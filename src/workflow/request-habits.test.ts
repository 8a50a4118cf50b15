import assert from 'node:assert/strict';
import { test } from 'node:test';
import { replayTiming } from '../predict/request-timing/evaluate-timing.js';
import { hazardWindow, pooledHazard } from '../predict/request-timing/hazard-window.js';
import { clockHazard } from '../predict/request-timing/timing-candidates.js';
import { budgetedThreshold, windowDue } from './proactive-scheduler.js';
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

test('with a budget of unused minutes per session, one threshold for every client: a larger budget lowers it and prepares sooner', () => {
  // 30 clients back after about 2 hours or about 20 hours, at random (a fixed generator).
  let x = 12345;
  const next = (): number => ((x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const streams = new Map<string, number[]>();
  for (let c = 0; c < 30; c++) {
    const t = [Math.floor(next() * 86_400)];
    for (let i = 0; i < 120; i++) t.push(t[t.length - 1]! + Math.round((next() < 0.6 ? 100 + 40 * next() : 1100 + 300 * next()) * 60));
    streams.set(`c${c}`, t);
  }
  const prior = pooledHazard(streams);
  const frugal = budgetedThreshold(streams, 15, prior);
  const generous = budgetedThreshold(streams, 240, prior);
  assert.ok(generous < frugal / 2, `threshold ${frugal} at 15 min/session, ${generous} at 240`);
  // The frugal threshold, held fixed over the same history, spends about its budget; the generous one about its own.
  const [f, g] = replayTiming(streams, [hazardWindow(frugal, { ...clockHazard, prior }), hazardWindow(generous, { ...clockHazard, prior })]);
  assert.ok(f!.unusedMinutesPerSession < 40 && g!.unusedMinutesPerSession > 120, `${f!.unusedMinutesPerSession} / ${g!.unusedMinutesPerSession}`);
  assert.ok(g!.coldStartRate < f!.coldStartRate);
  // What the scheduler asks: a client 1 h 50 min after its session, with a 1 h lead.
  const times = streams.get('c0')!.map((s) => new Date(s * 1000));
  const last = times[times.length - 1]!.getTime();
  const early = new Date(last + 40 * 60_000);
  const dueGenerous = windowDue(times, early, 3_600_000, prior, generous);
  assert.ok(dueGenerous, 'a generous budget prepares for the 2-hour return within the lead');
  const dueFrugal = windowDue(times, early, 3_600_000, prior, frugal);
  assert.ok(!dueFrugal || dueFrugal.getTime() >= dueGenerous.getTime(), `${String(dueFrugal)} vs ${dueGenerous.toISOString()}`);
});
