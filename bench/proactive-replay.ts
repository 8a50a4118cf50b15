// Issue 19 benchmark: when a client asks, on real per-user request streams.
//   ../shared/datasets/google-2011-submits (Borg 2011 submissions), pwa-nasa-ipsc (NASA iPSC/860
//   1993, SWF) and alibaba-genai-lora (GenAI image requests per group, 2024; scored once by
//   `prescient eval` before it was added here, docs/prediction.md "A stream never seen"). Sessions split at 30-minute gaps; a policy names after each session the windows in
//   which the client's image is kept prepared. Cold start: a session starting with nothing
//   prepared; unused: minutes prepared before a session started (or the whole window when it came
//   after it), per session. The first 70 % of each trace is the training part; each learnt
//   policy's one knob is chosen on its last 15 % (rolling origin: the policies learn from every gap
//   before; lowest cold rate at no more unused time than the hybrid histogram there); the best
//   learnt policy is the one coldest there; every policy is scored once on the last 30 % (and,
//   for reference, on the whole trace). First, on the training part, the bound:
//   what a policy that knew each user's gap distribution would reach at the hybrid's unused time.
//   After the table, the budget controller's row (one threshold for every user at each moment,
//   tracking the hybrid's running unused time per session, in a replay ordered by time across
//   users; its knobs chosen on validation too), with the same build columns: its windows, as named
//   with the threshold of each moment in that replay, built on the same workers (scheduleBuildsInTime).
//   bash scripts/bench proactive-replay
import { readdir, readFile } from 'node:fs/promises';
import { paths } from '../src/core/config.js';
import { buildOrders, scheduleBuilds, type BuildScheduleResult } from '../src/predict/request-timing/build-schedule.js';
import { join } from 'node:path';
import { replayBudgeted, scheduleBudgetedBuilds, type BudgetReplay } from '../src/predict/request-timing/evaluate-budget.js';
import { replayTiming } from '../src/predict/request-timing/evaluate-timing.js';
import { budgetedPolicy } from '../src/predict/request-timing/timing-candidates.js';
import { hybridHistogram } from '../src/predict/request-timing/timing-policies.js';
import { renderTimingReport, timingReport } from '../src/predict/request-timing/timing-report.js';
import { requestLogsPresent } from '../test/support/datasets.js';

// Measured build times: the layer records of this machine's layer cache (PRESCIENT_HOME, else the
// test home) — per module the median build, summed over the modules: one full personalisation.
async function measuredBuildMinutes(): Promise<{ minutes: number; from: string }> {
  for (const dir of [paths().layers, join(process.env['PRESCIENT_TEST_HOME'] ?? '/var/tmp/prescient-test', 'layers')]) {
    const names = await readdir(dir).catch(() => [] as string[]);
    const byModule = new Map<string, number[]>();
    for (const n of names.filter((x) => x.endsWith('.json'))) {
      const r = JSON.parse(await readFile(join(dir, n), 'utf8').catch(() => '{}')) as { module?: string; buildMs?: number };
      if (typeof r.module === 'string' && typeof r.buildMs === 'number') byModule.set(r.module, [...(byModule.get(r.module) ?? []), r.buildMs]);
    }
    if (byModule.size === 0) continue;
    let ms = 0;
    for (const v of byModule.values()) ms += v.sort((a, b) => a - b)[v.length >> 1]!;
    return { minutes: ms / 60_000, from: `${[...byModule.values()].reduce((a, v) => a + v.length, 0)} layer records in ${dir}` };
  }
  return { minutes: 1, from: 'no layer records found: 1 minute assumed' };
}
const build = await measuredBuildMinutes();
const buildCases = [Math.max(0.1, Math.round(build.minutes * 10) / 10), 30];
const workerCases = [1, 2];
console.log(`build time: ${buildCases[0]} min measured (${build.from}); 30 min as a stress case`);

for await (const { format, log } of requestLogsPresent()) {
  const users = log.times;
  const started = performance.now();
  const { report, policies } = timingReport(log);
  const ms = performance.now() - started;
  const whole = replayTiming(users, policies, -Infinity, log.programs);
  // The controller with the knobs chosen on validation (not re-chosen): the report's replay again, its windows built.
  const knobs = report.budget.knobs;
  const controlled: BudgetReplay = {
    streams: users,
    training: new Map([...users].map(([k, v]) => [k, v.filter((t) => t < report.splitAt)] as const)),
    make: budgetedPolicy,
    shadow: hybridHistogram(),
    scoreFrom: report.splitAt,
    ...(log.programs ? { programs: log.programs } : {}),
  };
  const controlledWhole = replayBudgeted({ ...controlled, scoreFrom: -Infinity }, knobs);
  const [measured] = buildCases;
  console.log(`\nbuilds: ${workerCases[0]} worker, ${measured} min each, most expected first — hit = image built before the session and the session inside the window; lead = median minutes the fresh image waited; wasted = finished builds that served no session`);
  const builds = policies.map((p) => scheduleBuilds(users, p, { workers: workerCases[0]!, buildMinutes: measured!, order: 'most-expected', scoreFrom: report.splitAt, programs: log.programs }));
  const controlledBuilds = scheduleBudgetedBuilds(controlled, knobs, { workers: workerCases[0]!, buildMinutes: measured!, order: 'most-expected' });
  const cells = (b: BuildScheduleResult, w: { coldStartRate: number; unusedMinutesPerSession: number }): string =>
    `${(100 * b.hitRate).toFixed(1).padStart(5)} | ${b.medianLeadMinutes.toFixed(0).padStart(8)} | ${(100 * b.wastedShare).toFixed(1).padStart(8)} | ${(100 * w.coldStartRate).toFixed(1).padStart(19)} | ${w.unusedMinutesPerSession.toFixed(1).padStart(10)}`;
  const extra = {
    header: 'hit % | lead min | wasted % | whole trace: cold % | unused min',
    cells: (i: number) => cells(builds[i]!, whole[i]!),
    budgetCells: cells(controlledBuilds, controlledWhole),
  };
  console.log(renderTimingReport(format, report, extra) + `; replay ${ms.toFixed(0)} ms`);
  // Scarce workers and long builds: does the order matter? (every policy, both orders)
  console.log(`builds of ${buildCases[1]} min, test part — hit % / lead min / wasted % / builds dropped for want of a worker`);
  console.log(`${'policy'.padEnd(54)} | workers | earliest-deadline           | most-expected`);
  const show = (r: BuildScheduleResult): string => `${(100 * r.hitRate).toFixed(1)} / ${r.medianLeadMinutes.toFixed(0)} / ${(100 * r.wastedShare).toFixed(1)} / ${r.missedForWorkers}`.padEnd(27);
  for (const workers of workerCases) {
    const options = (order: (typeof buildOrders)[number]) => ({ workers, buildMinutes: buildCases[1]!, order });
    policies.forEach((p) => {
      const cell = (order: (typeof buildOrders)[number]): string => show(scheduleBuilds(users, p, { ...options(order), scoreFrom: report.splitAt, programs: log.programs }));
      console.log(`${p.id.padEnd(54)} | ${String(workers).padStart(7)} | ${cell('earliest-deadline')} | ${cell('most-expected')}`);
    });
    const cell = (order: (typeof buildOrders)[number]): string => show(scheduleBudgetedBuilds(controlled, knobs, options(order)));
    console.log(`${`${report.budget.row.policy} (controller)`.padEnd(54)} | ${String(workers).padStart(7)} | ${cell('earliest-deadline')} | ${cell('most-expected')}`);
  }
}
