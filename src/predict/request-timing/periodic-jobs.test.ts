import assert from 'node:assert/strict';
import { test } from 'node:test';
import { replayTiming } from './evaluate-timing.js';
import { hazardWindow, pooledHazard } from './hazard-window.js';
import { withPeriodicJobs } from './periodic-jobs.js';
import { timingBound } from './timing-bound.js';

// A cron job every 97 minutes and another every 7 hours, interleaved: their gaps mix, so bins of
// time since the last session cannot single either out; the programs' own periods can.
const times: number[] = [];
const programs: string[] = [];
for (let t = 0; t < 20 * 86_400; t += 97 * 60) times.push(t), programs.push('etl');
for (let t = 1_000; t < 20 * 86_400; t += 7 * 3600) times.push(t), programs.push('report');
const order = times.map((_, i) => i).sort((a, b) => times[a]! - times[b]!);
const streams = new Map([['u', order.map((i) => times[i]!)]]);
const ran = new Map([['u', order.map((i) => programs[i]!)]]);

test('periodic jobs: a narrow window before each periodic program\'s next run makes nearly every session warm, at little unused time', () => {
  const prior = pooledHazard(streams);
  const [plain, periodic] = replayTiming(streams, [hazardWindow(0.02, { prior }), withPeriodicJobs(hazardWindow(0.02, { prior }))], -Infinity, ran);
  assert.ok(periodic!.coldStartRate < 0.05, `periodic cold ${periodic!.coldStartRate}`);
  assert.ok(periodic!.coldStartRate < plain!.coldStartRate, `${periodic!.coldStartRate} vs ${plain!.coldStartRate}`);
  assert.ok(periodic!.unusedMinutesPerSession < 10, `periodic unused ${periodic!.unusedMinutesPerSession}`);
  // Without the programs the wrapper has nothing to learn from: the same as the hazard window alone.
  const [blind] = replayTiming(streams, [withPeriodicJobs(hazardWindow(0.02, { prior }))]);
  assert.deepEqual({ ...blind!, policy: '' }, { ...plain!, policy: '' });
});

test('the bound: knowing the gaps it is scored on (in-sample) beats knowing the rest of the distribution (cross-fitted); more budget, fewer cold starts', () => {
  const inSample = timingBound(streams, { mode: 'in-sample', budgetMinutes: 30 });
  const crossFitted = timingBound(streams, { mode: 'cross-fitted', budgetMinutes: 30 });
  assert.ok(inSample <= crossFitted, `${inSample} vs ${crossFitted}`);
  assert.ok(timingBound(streams, { mode: 'cross-fitted', budgetMinutes: 120 }) < crossFitted);
  assert.equal(timingBound(streams, { mode: 'in-sample', budgetMinutes: 0 }), 1);
});
