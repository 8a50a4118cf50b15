import type { BudgetedPolicy } from './evaluate-budget.js';
import { chooseWithinBudget, type LearntPolicy, type TimingEvaluation } from './evaluate-timing.js';
import { hazardWindow, pooledHazard, type HazardWindowOptions } from './hazard-window.js';
import { withPeriodicJobs } from './periodic-jobs.js';

/** Hazard thresholds (starts per minute) tried on training parts. */
export const hazardThresholds = [0.001, 0.0013, 0.0016, 0.0018, 0.002, 0.0022, 0.0025, 0.0028, 0.003, 0.0035, 0.004, 0.005, 0.0065, 0.008] as const;

/**
 * The clock-aware hazard window's structure, chosen on the training parts of both streams
 * (docs/prediction.md): 3-hour buckets, 300 pseudo-minutes to the subject's bin.
 */
export const clockHazard: HazardWindowOptions = { clockHours: 3, clockSmoothingMinutes: 300 };

/** Each learnt policy with the grid its knob is chosen from; the prior is pooled over the training part given. */
export function timingPolicyCandidates(): { learnt: LearntPolicy }[] {
  const make = (options: HazardWindowOptions, periodic: boolean): LearntPolicy => ({
    grid: hazardThresholds,
    make: (threshold, training) => {
      const h = hazardWindow(threshold, { ...options, prior: pooledHazard(training) });
      return periodic ? withPeriodicJobs(h) : h;
    },
  });
  return [{ learnt: make({}, false) }, { learnt: make(clockHazard, false) }, { learnt: make(clockHazard, true) }];
}

/**
 * The policy the report stands by: `chooseWithinBudget` over every learnt policy at its chosen knob
 * (the adaptive window included) and the hybrid histogram itself, on validation. A knob is the
 * coldest of its grid even when none of it kept within the hybrid's unused time; such a policy is
 * not "the best at no more unused time", so the hybrid stays in the pool and is named when nothing
 * learnt beat it within budget (a choice that falls back to a rule is reported as that rule).
 */
export function bestTimingPolicy(e: TimingEvaluation): string {
  const hybrid = e.chosen.hybridTraining;
  // Each validation result carries its policy's id (the knob in it), as the test part's rows do.
  const pool = [hybrid, e.chosen.training, ...e.chosenOthers.map((o) => o.training)];
  return chooseWithinBudget(pool.map((r) => ({ r })), hybrid).r.policy;
}

/**
 * The policy under the budget controller: the clock-aware hazard + periodic jobs (the best with a
 * fixed threshold), its threshold read from the controller at every session's end.
 */
export const budgetedPolicy: BudgetedPolicy = (threshold, training) => withPeriodicJobs(hazardWindow(threshold, { ...clockHazard, prior: pooledHazard(training) }));
