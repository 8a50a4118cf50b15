import assert from 'node:assert/strict';
import { test } from 'node:test';
import { daySchedule, populationActivity, previousGap, recentSessions, sinceFirstOfDay, spellLength } from './gap-features.js';
import { replayTiming, sessionsOf } from './evaluate-timing.js';
import { hazardWindow, pooledHazard } from './hazard-window.js';
import { timingBound } from './timing-bound.js';

const h = 3600;
const d = 86_400;

test('each feature reads only what came before the gap and the clock of the minute', () => {
  // Sessions (single requests) at day 0 8:00, 9:00, 12:00, day 1 8:10, 8:50; the gap after the last one is index 5.
  const times = [8 * h, 9 * h, 12 * h, d + 8 * h + 600, d + 8 * h + 3000];
  const sessions = sessionsOf([...times, 3 * d]);
  const gap = { sessions, index: 5 };
  assert.equal(previousGap()(gap)(0, 0), 0, 'the gap before the last session: 40 minutes, under an hour');
  assert.equal(previousGap()({ sessions, index: 4 })(0, 0), 2, 'day 0 12:00 → day 1 8:10: 20 h 10 min, the 4-24 h bucket');
  assert.equal(previousGap()({ sessions, index: 1 })(0, 0), 4, 'no gap before the first session');
  assert.equal(recentSessions()(gap)(0, 0), 2, 'four sessions began in the 24 h before the end (day 0 9:00 and 12:00, day 1 8:10 and 8:50): the 3-4 bucket');
  assert.equal(spellLength()(gap)(0, 0), 1, 'one short gap in a row before the end');
  const since = sinceFirstOfDay()(gap);
  assert.equal(since(30, d + 9 * h), 0, 'at 9:00 on day 1: 50 minutes after its first session, bucket 0');
  assert.equal(since(300, d + 14 * h), 1, 'at 14:00: 5 h 50 min after, the 3-6 h bucket');
  assert.equal(since(1000, 2 * d + 9 * h), 8, 'on day 2 no session has begun yet');
  const schedule = daySchedule()(gap);
  assert.equal(schedule(0, d + 10 * h), 4, 'day 1 already had its first session');
  assert.equal(schedule(0, 2 * d + 8 * h + 300), 2, 'day 2 at 8:05: within 30 minutes of both earlier days’ first start');
  assert.equal(schedule(0, 2 * d + 11 * h), 0);
  // Ten other users start at 9:30 on day 8; one more starts every day at 9:45: the hour before 10:01 on day 8 is 11 times its usual.
  const others = new Map<string, number[]>([['a', times], ['c', Array.from({ length: 9 }, (_, k) => k * d + 9 * h + 45 * 60)]]);
  for (let k = 0; k < 10; k++) others.set(`b${k}`, [8 * d + 9 * h + 30 * 60 + k]);
  const activity = populationActivity(others)(gap);
  assert.equal(activity(0, 8 * d + 10 * h + 60), 3, 'over twice the usual');
  assert.equal(activity(0, 7 * d + 10 * h + 60), 1, 'the usual: one start, as on the days before (ratio 1)');
  assert.equal(activity(0, 7 * d + 15 * h), 4, 'no start in that hour on the week before: no usual level');
});

test('the previous gap decides: a user who alternates short and long returns is known by it, and the bound shows it', () => {
  // Back after about an hour, then after about ten, alternately (jittered): the time since the end
  // alone says "1 h or 10 h"; the previous gap says which.
  const streams = new Map<string, number[]>();
  for (let u = 0; u < 6; u++) {
    const t = [u * 1000];
    for (let i = 0; i < 120; i++) t.push(t[t.length - 1]! + (i % 2 ? 10 * h : h) + ((i * 7 + u * 13) % 11) * 60);
    // (strictly alternating gaps fall into opposite halves of the cross-fitted bound: leave-one-out here)
    streams.set(`u${u}`, t);
  }
  const budgetMinutes = 8;
  const plain = timingBound(streams, { mode: 'leave-one-out', budgetMinutes });
  const withGap = timingBound(streams, { mode: 'leave-one-out', features: [previousGap([120])], budgetMinutes });
  assert.ok(withGap < plain / 2, `with the previous gap ${withGap}, without ${plain}`);
  // The in-sample bound knows the gaps it scores; leave-one-out does not, the cross-fitted one has half the data.
  assert.ok(timingBound(streams, { mode: 'in-sample', features: [previousGap([120])], budgetMinutes }) <= withGap);
});

test('leave-one-out: no better than knowing the gaps it scores, fewer cold starts with more budget, (nearly) all cold with none', () => {
  const streams = new Map<string, number[]>();
  for (let u = 0; u < 5; u++) {
    const t = [0];
    for (let i = 0; i < 60; i++) t.push(t[t.length - 1]! + 3 * h + (((i * 7919 + u * 31) % 97) / 97) * 3 * h);
    streams.set(`u${u}`, t);
  }
  const loo = (budgetMinutes: number): number => timingBound(streams, { mode: 'leave-one-out', budgetMinutes });
  assert.ok(timingBound(streams, { mode: 'in-sample', budgetMinutes: 30 }) <= loo(30));
  assert.ok(loo(120) < loo(30), `${loo(120)} vs ${loo(30)}`);
  // (a gap ending exactly on a step's start costs no minute: the only warm starts without a budget)
  assert.ok(loo(0) >= 0.95, String(loo(0)));
});

test('the hazard window with the previous gap as a cell learns online which return comes next', () => {
  // The same alternation, one user: without the feature the window must cover both the 1 h and the
  // 10 h return after every session; with it, only the one that comes next.
  const t = [0];
  for (let i = 0; i < 300; i++) t.push(t[t.length - 1]! + (i % 2 ? 10 * h : h) + ((i * 7) % 11) * 60);
  const streams = new Map([['u', t]]);
  const prior = pooledHazard(streams);
  const [plain, informed] = replayTiming(streams, [hazardWindow(0.02, { prior, clockHours: 3, clockSmoothingMinutes: 300 }), hazardWindow(0.02, { prior, clockHours: 3, clockSmoothingMinutes: 300, feature: previousGap([120]), featureId: 'previous-gap' })]);
  assert.equal(informed!.policy, 'hazard-clock-window(0.02)+previous-gap');
  assert.ok(informed!.coldStartRate <= plain!.coldStartRate + 0.02, `${informed!.coldStartRate} vs ${plain!.coldStartRate}`);
  assert.ok(informed!.unusedMinutesPerSession < 0.6 * plain!.unusedMinutesPerSession, `unused ${informed!.unusedMinutesPerSession} vs ${plain!.unusedMinutesPerSession}`);
});
