import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { evaluateTiming, replayTiming, sessionsOf, trainingPartOf } from './evaluate-timing.js';
import { readRequestLog, readRequestStreams } from './request-streams.js';
import { clockHazard } from './timing-candidates.js';
import { withPeriodicJobs } from './periodic-jobs.js';
import { timingBound } from './timing-bound.js';
import { hazardWindow, pooledHazard } from './hazard-window.js';
import { adaptiveWindow, hybridHistogram, keepAlive } from './timing-policies.js';
import { requestStreamFiles } from '../../../test/support/datasets.js';

test('sessions split at 30-minute gaps; a keep-alive is warm inside its window and counts the time before', () => {
  assert.deepEqual(sessionsOf([0, 600, 1800 + 600, 10_000]), [{ start: 0, end: 2400 }, { start: 10_000, end: 10_000 }]);
  // Gaps of 60 and 300 minutes: a 4 h keep-alive is warm once (60 unused) and cold once (240 unused).
  const streams = new Map([['u', [0, 3600, 3600 + 300 * 60]]]);
  const [r] = replayTiming(streams, [keepAlive(240)]);
  assert.deepEqual(r, { policy: 'keep-alive-4h', sessions: 2, coldStartRate: 0.5, unusedMinutesPerSession: 150 });
});

test('the adaptive window learns a regular return: prepared just before it, not all the way there', () => {
  // Every 6 hours, exactly: a 4 h keep-alive is always cold; the learnt window is warm and wastes little.
  const times = Array.from({ length: 60 }, (_, i) => i * 6 * 3600);
  const [ka, hybrid, ours] = replayTiming(new Map([['u', times]]), [keepAlive(240), hybridHistogram(), adaptiveWindow(0.002)]);
  assert.equal(ka!.coldStartRate, 1);
  assert.equal(hybrid!.coldStartRate, 1, 'beyond the histogram range: kept for 4 h, then cold');
  assert.ok(ours!.coldStartRate < 0.1, `adaptive cold ${ours!.coldStartRate}`);
  assert.ok(ours!.unusedMinutesPerSession < 60, `adaptive unused ${ours!.unusedMinutesPerSession}`);
});

test('the hazard window prepares where returns cluster, in more than one window when there are two habits', () => {
  // Back after about 1 hour or after about 6 hours, alternately: a single window must cover 1–6 h;
  // the hazard window prepares around each return and not the hours between.
  const times: number[] = [0];
  for (let i = 0; i < 80; i++) times.push(times[times.length - 1]! + (i % 2 ? 6 * 3600 : 3600) + ((i * 37) % 7) * 60);
  const streams = new Map([['u', times]]);
  const [ka, ours] = replayTiming(streams, [keepAlive(360), hazardWindow(0.01, { prior: pooledHazard(streams) })]);
  assert.ok(ours!.coldStartRate < 0.15, `hazard cold ${ours!.coldStartRate}`);
  assert.ok(ours!.unusedMinutesPerSession < ka!.unusedMinutesPerSession / 2, `hazard unused ${ours!.unusedMinutesPerSession} vs 6 h keep-alive ${ka!.unusedMinutesPerSession}`);
  const policy = hazardWindow(0.01).create();
  for (let i = 1; i < times.length; i++) policy.observe((times[i]! - times[i - 1]!) / 60, times[i]);
  const windows = policy.intervals!(times[times.length - 1]!);
  assert.ok(windows.length >= 2 && windows.some((w) => w.from <= 65 && w.to >= 60) && windows.some((w) => w.from <= 365 && w.to >= 360), JSON.stringify(windows));
});

const google = requestStreamFiles[0]!.path;
test('google-2011-submits: the 4 h keep-alive reproduces the reference; the adaptive window beats the hybrid histogram on the test part', { skip: existsSync(google) ? false : `needs ${google} (the shared datasets)` }, async () => {
  const users = await readRequestStreams(google, 'google-submits');
  assert.equal(users.size, 211);
  const [ka4] = replayTiming(users, [keepAlive(240)]);
  assert.equal(Number((100 * ka4!.coldStartRate).toFixed(1)), 20.5);
  assert.equal(Number(ka4!.unusedMinutesPerSession.toFixed(1)), 108.7);
  const e = evaluateTiming(users, { baselines: [keepAlive(240)], hybrid: hybridHistogram(), adaptive: adaptiveWindow });
  const hybrid = e.rows.find((r) => r.policy === 'hybrid-histogram')!;
  const ours = e.rows[e.rows.length - 1]!;
  assert.ok(e.chosen.training.unusedMinutesPerSession <= e.chosen.hybridTraining.unusedMinutesPerSession, 'chosen on the training part within the hybrid budget');
  assert.ok(ours.coldStartRate < hybrid.coldStartRate && ours.unusedMinutesPerSession <= hybrid.unusedMinutesPerSession, `${JSON.stringify(ours)} vs ${JSON.stringify(hybrid)}`);
});

test('the clock-aware hazard window learns when in the day a return comes: morning sessions are followed within hours, evening ones the next morning', () => {
  // Each day: sessions at 08:00 and 11:00 (back after 3 h), then 20:00 (back after 12 h, at 08:00).
  const times: number[] = [];
  for (let d = 0; d < 40; d++) for (const h of [8, 11, 20]) times.push(d * 86_400 + h * 3600 + ((d * 7) % 11) * 60);
  const streams = new Map([['u', times]]);
  const [plain, clock] = replayTiming(streams, [hazardWindow(0.004, { prior: pooledHazard(streams) }), hazardWindow(0.004, { prior: pooledHazard(streams), clockHours: 3 })]);
  assert.ok(clock!.coldStartRate <= plain!.coldStartRate, `clock ${clock!.coldStartRate} vs ${plain!.coldStartRate}`);
  assert.ok(clock!.unusedMinutesPerSession < plain!.unusedMinutesPerSession, `clock unused ${clock!.unusedMinutesPerSession} vs ${plain!.unusedMinutesPerSession}`);
  const policy = hazardWindow(0.004, { clockHours: 3 }).create();
  for (let i = 1; i < times.length; i++) policy.observe((times[i]! - times[i - 1]!) / 60, times[i]);
  // After the 20:00 session nothing is prepared 3 hours on (23:00); after 08:00 the 11:00 return is.
  const evening = policy.intervals!(40 * 86_400 + 20 * 3600);
  const morning = policy.intervals!(40 * 86_400 + 8 * 3600);
  const covers = (ws: { from: number; to: number }[], m: number): boolean => ws.some((w) => w.from <= m && w.to >= m);
  assert.ok(covers(morning, 180) && !covers(evening, 180), `${JSON.stringify(morning)} / ${JSON.stringify(evening)}`);
  assert.ok(covers(evening, 720), JSON.stringify(evening));
});

test('google-2011-submits: the policy best on training beats the hybrid on the test part; even the cross-fitted bound is above 0.5× on the training part', { skip: existsSync(google) ? false : `needs ${google} (the shared datasets)` }, async () => {
  const log = await readRequestLog(google, 'google-submits');
  const { splitAt, training } = trainingPartOf(log.times);
  // 0.0025: the threshold chosen on the validation part (bench/proactive-replay prints the choice).
  const ours = withPeriodicJobs(hazardWindow(0.0025, { ...clockHazard, prior: pooledHazard(training) }));
  const [hybrid, best] = replayTiming(log.times, [hybridHistogram(), ours], splitAt, log.programs);
  assert.ok(best!.coldStartRate < 0.65 * hybrid!.coldStartRate && best!.unusedMinutesPerSession < hybrid!.unusedMinutesPerSession, `${JSON.stringify(best)} vs ${JSON.stringify(hybrid)}`);
  const [hybridTraining] = replayTiming(training, [hybridHistogram()]);
  const bound = timingBound(training, { mode: 'cross-fitted', clockHours: 3, budgetMinutes: hybridTraining!.unusedMinutesPerSession });
  assert.ok(bound > 0.5 * hybridTraining!.coldStartRate, `bound ${bound}, hybrid on training ${hybridTraining!.coldStartRate}`);
});
