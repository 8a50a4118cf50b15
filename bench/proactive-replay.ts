// Issue 19 benchmark: when a client asks, on real per-user request streams.
//   ../shared/datasets/google-2011-submits (Borg 2011 submissions) and pwa-nasa-ipsc (NASA iPSC/860
//   1993, SWF). Sessions split at 30-minute gaps; a policy names after each session the window in
//   which the client's image is kept prepared. Cold start: a session starting with nothing
//   prepared; unused: minutes prepared before a session started (or the whole window when it came
//   after it), per session. The adaptive policy's one knob is chosen on the first 70 % of each
//   trace; every policy is scored once on the last 30 % (and, for reference, on the whole trace).
//   The hazard window's threshold is chosen the same way, its prior pooled over the training part.
//   bash scripts/bench proactive-replay
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { evaluateTiming, replayTiming } from '../src/predict/request-timing/evaluate-timing.js';
import { readRequestStreams, type RequestStreamFormat } from '../src/predict/request-timing/request-streams.js';
import { hazardWindow, pooledHazard } from '../src/predict/request-timing/hazard-window.js';
import { adaptiveWindow, hybridHistogram, keepAlive } from '../src/predict/request-timing/timing-policies.js';

const datasets = resolve(process.cwd(), '..', 'shared', 'datasets');
const streams: [string, RequestStreamFormat][] = [
  [join(datasets, 'google-2011-submits', 'submits.csv.gz'), 'google-submits'],
  [join(datasets, 'pwa-nasa-ipsc', 'NASA-iPSC-1993-3.1-cln.swf.gz'), 'swf'],
];
const baselines = [keepAlive(60), keepAlive(240), keepAlive(1440)];
const hazardGrid = [0.001, 0.0015, 0.002, 0.0025, 0.003, 0.004, 0.005, 0.008];
for (const [path, format] of streams) {
  if (!existsSync(path)) {
    console.log(`${format}: skipped, ${path} is absent (the shared datasets)`);
    continue;
  }
  const users = await readRequestStreams(path, format);
  const started = performance.now();
  const hazard = { grid: hazardGrid, make: (t: number, training: ReadonlyMap<string, readonly number[]>) => hazardWindow(t, { prior: pooledHazard(training) }) };
  const e = evaluateTiming(users, { baselines, hybrid: hybridHistogram(), adaptive: adaptiveWindow, others: [hazard] });
  const ms = performance.now() - started;
  const whole = replayTiming(users, [...baselines, hybridHistogram(), ...e.chosenOthers.map((o) => hazardWindow(o.knob, { prior: pooledHazard(users) })), adaptiveWindow(e.chosen.costPerMinute)]);
  console.log(`\n${format}: ${users.size} users; adaptive cost per unused minute chosen on the first 70 %: ${e.chosen.costPerMinute} (training: ${(100 * e.chosen.training.coldStartRate).toFixed(1)} % cold at ${e.chosen.training.unusedMinutesPerSession.toFixed(1)} min; hybrid ${(100 * e.chosen.hybridTraining.coldStartRate).toFixed(1)} % at ${e.chosen.hybridTraining.unusedMinutesPerSession.toFixed(1)} min)`);
  for (const o of e.chosenOthers) console.log(`${o.id}: threshold chosen on the first 70 % (training: ${(100 * o.training.coldStartRate).toFixed(1)} % cold at ${o.training.unusedMinutesPerSession.toFixed(1)} min)`);
  console.log('policy                      | test: sessions | cold % | unused min/session | whole trace: cold % | unused min/session');
  e.rows.forEach((r, i) => {
    const w = whole[i]!;
    console.log(`${r.policy.padEnd(27)} | ${String(r.sessions).padStart(14)} | ${(100 * r.coldStartRate).toFixed(1).padStart(6)} | ${r.unusedMinutesPerSession.toFixed(1).padStart(18)} | ${(100 * w.coldStartRate).toFixed(1).padStart(19)} | ${w.unusedMinutesPerSession.toFixed(1).padStart(18)}`);
  });
  const hybrid = e.rows.find((r) => r.policy === 'hybrid-histogram')!;
  const ours = e.rows[e.rows.length - 1]!;
  console.log(`adaptive / hybrid cold-start rate on the test part: ${(ours.coldStartRate / hybrid.coldStartRate).toFixed(2)} (target ≤ 0.50) at ${ours.unusedMinutesPerSession.toFixed(1)} vs ${hybrid.unusedMinutesPerSession.toFixed(1)} unused min/session; replay ${ms.toFixed(0)} ms`);
}
