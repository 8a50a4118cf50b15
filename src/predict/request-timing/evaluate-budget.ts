import { budgetController, type BudgetControllerOptions } from './budget-controller.js';
import { chooseWithinBudget, replayTiming, type ProgramsBySubject, type TimingResult } from './evaluate-timing.js';
import type { BuildScheduleOptions, BuildScheduleResult } from './build-schedule.js';
import { replayInTime } from './replay-in-time.js';
import { scheduleBuildsInTime } from './schedule-builds-in-time.js';
import type { TimingPolicyFactory } from './timing-policies.js';

/**
 * The controller's knobs tried on the validation part (every combination). Gains of 0.0003–0.001
 * were also tried and left out: too slow to converge on a month of traffic (0.86–0.98× the budget
 * there depending on the start); windows of 8,000 sessions changed nothing.
 */
export const budgetKnobGrid = {
  gain: [0.003, 0.01, 0.03],
  windowSessions: [500, 2000],
  startThreshold: [0.0018, 0.0025],
  targetShare: [1, 0.97],
} as const;

export function budgetKnobCombinations(grid: { readonly [K in keyof typeof budgetKnobGrid]: readonly number[] } = budgetKnobGrid): Required<BudgetControllerOptions>[] {
  const out: Required<BudgetControllerOptions>[] = [];
  for (const gain of grid.gain)
    for (const windowSessions of grid.windowSessions)
      for (const startThreshold of grid.startThreshold) for (const targetShare of grid.targetShare) out.push({ gain, windowSessions, startThreshold, targetShare });
  return out;
}

/** A policy whose threshold is read from the controller; `training`: the training part's streams (for pooled priors). */
export type BudgetedPolicy = (threshold: () => number, training: ReadonlyMap<string, readonly number[]>) => TimingPolicyFactory;

export interface BudgetReplay {
  streams: ReadonlyMap<string, readonly number[]>;
  training: ReadonlyMap<string, readonly number[]>;
  make: BudgetedPolicy;
  /** What the budget is: this policy's unused minutes on the same past sessions (the hybrid histogram in eval). */
  shadow: TimingPolicyFactory;
  scoreFrom: number;
  programs?: ProgramsBySubject;
}

/** One time-ordered replay of `make` under a fresh controller with these knobs, from the trace's start. */
export function replayBudgeted(r: BudgetReplay, knobs: BudgetControllerOptions): TimingResult {
  const controller = budgetController(knobs);
  const factory = r.make(controller.threshold, r.training);
  return replayInTime(r.streams, factory, { scoreFrom: r.scoreFrom, ...(r.programs ? { programs: r.programs } : {}), budget: { controller, shadow: r.shadow } });
}

/** The same replay as replayBudgeted (a fresh controller, the same thresholds at each moment), its windows built on bounded workers. */
export function scheduleBudgetedBuilds(r: BudgetReplay, knobs: BudgetControllerOptions, build: Pick<BuildScheduleOptions, 'workers' | 'buildMinutes' | 'order'>): BuildScheduleResult {
  const controller = budgetController(knobs);
  const factory = r.make(controller.threshold, r.training);
  return scheduleBuildsInTime(r.streams, factory, { ...build, scoreFrom: r.scoreFrom, ...(r.programs ? { programs: r.programs } : {}), budget: { controller, shadow: r.shadow } });
}

export interface BudgetEvaluation {
  knobs: Required<BudgetControllerOptions>;
  /** The chosen knobs' figures on the validation part, and the shadow's there. */
  validation: TimingResult;
  shadowValidation: TimingResult;
  /** Scored once on the test part. */
  row: TimingResult;
}

/**
 * The controller's knobs chosen on the validation part (sessions from `validateFrom` to `splitAt`
 * of the training part, everything before teaching) by chooseWithinBudget against the shadow's
 * figures there, then the whole trace replayed once and scored from `splitAt`.
 */
export function evaluateBudget(
  streams: ReadonlyMap<string, readonly number[]>,
  o: { make: BudgetedPolicy; shadow: TimingPolicyFactory; splitAt: number; validateFrom: number; programs?: ProgramsBySubject; grid?: readonly Required<BudgetControllerOptions>[] },
): BudgetEvaluation {
  const training = new Map([...streams].map(([k, v]) => [k, v.filter((t) => t < o.splitAt)] as const));
  const base = { training, make: o.make, shadow: o.shadow, ...(o.programs ? { programs: o.programs } : {}) };
  const [shadowValidation] = replayTiming(training, [o.shadow], o.validateFrom, o.programs);
  const tried = (o.grid ?? budgetKnobCombinations()).map((knobs) => ({ knobs, r: replayBudgeted({ ...base, streams: training, scoreFrom: o.validateFrom }, knobs) }));
  const pick = chooseWithinBudget(tried, shadowValidation!);
  return { knobs: pick.knobs, validation: pick.r, shadowValidation: shadowValidation!, row: replayBudgeted({ ...base, streams, scoreFrom: o.splitAt }, pick.knobs) };
}
