// Issue 19, item 5: does any further information tell when a user comes back? Each candidate is
//   measured by the cross-fitted bound (src/predict/request-timing/timing-bound.ts) on the training
//   part (first 70 %) of both request streams, at the hybrid histogram's unused time there: per
//   subject a hazard over bins of time since the last session × 3 h of the clock × the candidate,
//   each level shrunk to the one above (optionally times the population's ratio for the value);
//   minutes prepared greedily by hazard across every subject. The bound without the candidate is
//   printed first; a candidate that carries information lowers it markedly. Then each as an online
//   policy (the clock-aware hazard window + periodic jobs with the candidate as a further cell), its
//   threshold chosen on the validation part (the last 15 % of the training part) by the rule of
//   evaluateTiming: the lowest cold rate at no more unused time than the hybrid there.
//   bash scripts/bench timing-information
import { replayTiming, trainingPartOf } from '../src/predict/request-timing/evaluate-timing.js';
import { daySchedule, populationActivity, previousGap, recentSessions, sinceFirstOfDay, spellLength } from '../src/predict/request-timing/gap-features.js';
import { hazardWindow, pooledHazard } from '../src/predict/request-timing/hazard-window.js';
import { withPeriodicJobs } from '../src/predict/request-timing/periodic-jobs.js';
import { clockHazard, hazardThresholds } from '../src/predict/request-timing/timing-candidates.js';
import type { GapFeature } from '../src/predict/request-timing/gap-features.js';
import { timingBound } from '../src/predict/request-timing/timing-bound.js';
import { hybridHistogram } from '../src/predict/request-timing/timing-policies.js';
import { requestLogsPresent } from '../test/support/datasets.js';


for await (const { format, log } of requestLogsPresent()) {
  const users = log.times;
  const { training, first, last } = trainingPartOf(users);
  const [hybrid] = replayTiming(training, [hybridHistogram()]);
  const budgetMinutes = hybrid!.unusedMinutesPerSession;
  console.log(`\n${format}: training part, hybrid ${(100 * hybrid!.coldStartRate).toFixed(1)} % cold at ${budgetMinutes.toFixed(1)} unused min/session; cross-fitted bound at that budget, cold % (× hybrid)`);
  const candidates: [string, GapFeature[]][] = [
    ['gap bins × clock (today)', []],
    ['+ previous gap (<1 h, 1-4 h, 4-24 h, >24 h)', [previousGap()]],
    ['+ previous gap (<30 min, 30-60, 1-2 h, 2-4 h, 4-12 h, 12-24 h, >24 h)', [previousGap([30, 60, 120, 240, 720, 1440])]],
    ['+ sessions in the last 24 h (1, 2, 3-4, 5-8, 9+)', [recentSessions()]],
    ['+ sessions in the last 6 h', [recentSessions(6, [2, 3, 5])]],
    ['+ spell length (gaps < 2 h in a row: 0, 1, 2-3, 4-7, 8+)', [spellLength()]],
    ['+ hours since the first session of the day (3 h buckets, none yet)', [sinceFirstOfDay()]],
    ["+ day-level schedule (days of 7 whose first start was within ±30 min of this time)", [daySchedule()]],
    ['+ day-level schedule, ±60 min', [daySchedule(7, 60)]],
    ["+ other users' starts in the last hour / their usual (<0.5, 0.5-1, 1-2, >2)", [populationActivity(training)]],
    ['+ previous gap + sessions in the last 24 h', [previousGap(), recentSessions()]],
    ['+ previous gap + day-level schedule', [previousGap(), daySchedule()]],
  ];
  for (const [label, features] of candidates)
    for (const pooledFeatures of features.length ? [false, true] : [false]) {
      const started = performance.now();
      const c = timingBound(training, { mode: 'cross-fitted', clockHours: 3, features, pooledFeatures, budgetMinutes });
      console.log(`  ${(label + (pooledFeatures ? ', × pooled ratio' : '')).padEnd(92)} ${(100 * c).toFixed(1).padStart(5)} % (${(c / hybrid!.coldStartRate).toFixed(2)}×)  ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
  for (const [label, feature] of [['previous gap', previousGap()], ['sessions in the last 24 h', recentSessions()], ['hours since the first session of the day', sinceFirstOfDay()]] as const)
    for (const m of [100, 1000, 3000]) {
      const c = timingBound(training, { mode: 'cross-fitted', clockHours: 3, features: [feature], featureSmoothingMinutes: m, budgetMinutes });
      console.log(`  ${`+ ${label}, shrunk with ${m} pseudo-minutes`.padEnd(92)} ${(100 * c).toFixed(1).padStart(5)} % (${(c / hybrid!.coldStartRate).toFixed(2)}×)`);
    }
  // Halving each subject's history may be what keeps the cross-fitted bound up: every gap scored by all the others instead.
  for (const [label, features] of [['leave-one-out: gap bins × clock', []], ['leave-one-out: + previous gap', [previousGap()]], ['leave-one-out: + sessions in the last 24 h', [recentSessions()]], ['leave-one-out: + hours since the first session of the day', [sinceFirstOfDay()]], ['leave-one-out: + day-level schedule', [daySchedule()]], ["leave-one-out: + other users' activity", [populationActivity(training)]]] as [string, GapFeature[]][]) {
    const c = timingBound(training, { mode: 'leave-one-out', clockHours: 3, features, budgetMinutes });
    console.log(`  ${label.padEnd(92)} ${(100 * c).toFixed(1).padStart(5)} % (${(c / hybrid!.coldStartRate).toFixed(2)}×)`);
  }
  for (const [label, features] of [['gap bins (no clock)', []], ['gap bins + previous gap (no clock)', [previousGap()]]] as [string, GapFeature[]][]) {
    const c = timingBound(training, { mode: 'cross-fitted', features, pooledFeatures: true, budgetMinutes });
    console.log(`  ${label.padEnd(92)} ${(100 * c).toFixed(1).padStart(5)} % (${(c / hybrid!.coldStartRate).toFixed(2)}×)`);
  }

  // Online, on the validation part: the policy the bound's family describes, with each candidate.
  const validateFrom = first + (last - first) * 0.55;
  const prior = pooledHazard(training);
  const [hybridValidation] = replayTiming(training, [hybridHistogram()], validateFrom, log.programs);
  console.log(`  online on the validation part (hybrid ${(100 * hybridValidation!.coldStartRate).toFixed(1)} % cold at ${hybridValidation!.unusedMinutesPerSession.toFixed(1)} min): clock-aware hazard + periodic jobs, threshold chosen there`);
  const online: [string, GapFeature | undefined][] = [
    ['as shipped', undefined],
    ['+ previous gap', previousGap()],
    ['+ sessions in the last 24 h', recentSessions()],
    ['+ spell length', spellLength()],
    ['+ hours since the first session of the day', sinceFirstOfDay()],
    ['+ day-level schedule', daySchedule()],
    ["+ other users' activity", populationActivity(training)],
  ];
  for (const [label, feature] of online) {
    const policies = hazardThresholds.map((k) => withPeriodicJobs(hazardWindow(k, { ...clockHazard, prior, ...(feature ? { feature } : {}) })));
    const tried = replayTiming(training, policies, validateFrom, log.programs).map((r, i) => ({ r, knob: hazardThresholds[i]! }));
    const within = tried.filter((t) => t.r.unusedMinutesPerSession <= hybridValidation!.unusedMinutesPerSession);
    const best = (within.length ? within : tried).reduce((a, b) => (b.r.coldStartRate < a.r.coldStartRate ? b : a));
    console.log(`    ${label.padEnd(44)} threshold ${String(best.knob).padEnd(6)} ${(100 * best.r.coldStartRate).toFixed(1).padStart(5)} % at ${best.r.unusedMinutesPerSession.toFixed(1).padStart(5)} min (${(best.r.coldStartRate / hybridValidation!.coldStartRate).toFixed(2)}×)`);
  }
}
