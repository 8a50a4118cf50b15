import type { BudgetedPolicy } from './evaluate-budget.js';
import type { LearntPolicy, TimingEvaluation } from './evaluate-timing.js';
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

/** The learnt policy coldest on the training part at its chosen knob (the adaptive window included). */
export function bestTimingPolicy(e: TimingEvaluation): { id: string; knob: number } {
  const all = [{ id: e.rows[e.rows.length - 1]!.policy, knob: e.chosen.costPerMinute, training: e.chosen.training }, ...e.chosenOthers];
  const best = all.reduce((a, b) => (b.training.coldStartRate < a.training.coldStartRate ? b : a));
  return { id: best.id, knob: best.knob };
}

/**
 * The policy under the budget controller: the clock-aware hazard + periodic jobs (the best with a
 * fixed threshold), its threshold read from the controller at every session's end.
 */
export const budgetedPolicy: BudgetedPolicy = (threshold, training) => withPeriodicJobs(hazardWindow(threshold, { ...clockHazard, prior: pooledHazard(training) }));
