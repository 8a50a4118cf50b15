import { previousGap, recentSessions } from './gap-features.js';
import { evaluateTiming, replayTiming, type TimingResult } from './evaluate-timing.js';
import type { RequestLog } from './request-streams.js';
import { timingBound, type TimingBoundOptions } from './timing-bound.js';
import type { BudgetControllerOptions } from './budget-controller.js';
import { evaluateBudget } from './evaluate-budget.js';
import { bestTimingPolicy, budgetedPolicy, timingPolicyCandidates } from './timing-candidates.js';
import { adaptiveWindow, hybridHistogram, keepAlive, type TimingPolicyFactory } from './timing-policies.js';

export interface TimingReport {
  users: number;
  /** Trace seconds: the test part starts here; knobs were chosen on sessions from `validateFrom` to it. */
  splitAt: number;
  validateFrom: number;
  hybridTraining: TimingResult;
  hybridValidation: TimingResult;
  /** What a policy that knew each user's distribution would reach on the training part at the hybrid's unused time there. */
  bounds: { label: string; coldStartRate: number; ratioToHybrid: number }[];
  /** Each learnt policy's knob and its figures on the validation part. */
  chosen: { id: string; knob: number; validation: TimingResult }[];
  /** The learnt policy coldest on the validation part. */
  best: string;
  /** Every policy on the test part, with its cold rate as a multiple of the hybrid histogram's. */
  rows: (TimingResult & { ratioToHybrid: number })[];
  /** The issue's line: cold ≤ 0.5× the hybrid's at no more unused time, for `best` on the test part. */
  acceptance: Acceptance;
  /**
   * The clock-aware hazard + periodic jobs under the budget controller: one threshold for every
   * user at each moment, tracking the hybrid histogram's running unused time per session (replayed
   * alongside, on the same past sessions); knobs chosen on validation, the test part scored once.
   */
  budget: { knobs: Required<BudgetControllerOptions>; validation: TimingResult; hybridValidation: TimingResult; row: TimingResult & { ratioToHybrid: number }; acceptance: Acceptance };
}

export interface Acceptance {
  holds: boolean;
  coldRatio: number;
  unusedRatio: number;
}

function acceptanceOf(ours: TimingResult, hybrid: TimingResult): Acceptance {
  const coldRatio = ours.coldStartRate / hybrid.coldStartRate;
  const unusedRatio = ours.unusedMinutesPerSession / hybrid.unusedMinutesPerSession;
  return { holds: coldRatio <= 0.5 && unusedRatio <= 1, coldRatio, unusedRatio };
}

const bounds: { label: string; options: Omit<TimingBoundOptions, 'budgetMinutes'> }[] = [
  { label: 'in-sample, gap bins', options: { mode: 'in-sample' } },
  { label: 'in-sample, gap bins × 3 h of the clock', options: { mode: 'in-sample', clockHours: 3 } },
  { label: 'cross-fitted, gap bins', options: { mode: 'cross-fitted' } },
  { label: 'cross-fitted, gap bins × 3 h of the clock', options: { mode: 'cross-fitted', clockHours: 3 } },
  // The further information measured for issue 19 (bench/timing-information has every candidate): the two that moved it most.
  { label: 'cross-fitted, × clock × previous gap', options: { mode: 'cross-fitted', clockHours: 3, features: [previousGap()] } },
  { label: 'cross-fitted, × clock × sessions in the last 24 h', options: { mode: 'cross-fitted', clockHours: 3, features: [recentSessions()] } },
  { label: 'leave-one-out, gap bins × 3 h of the clock', options: { mode: 'leave-one-out', clockHours: 3 } },
];

/** Baselines, then the hybrid histogram, then the learnt policies (knobs chosen on validation), the adaptive window last. */
export function timingReport(log: RequestLog): { report: TimingReport; policies: TimingPolicyFactory[] } {
  const users = log.times;
  const baselines = [keepAlive(60), keepAlive(240), keepAlive(1440)];
  const learnt = timingPolicyCandidates().map((c) => c.learnt);
  const e = evaluateTiming(users, { baselines, hybrid: hybridHistogram(), adaptive: adaptiveWindow, others: learnt }, { programs: log.programs });
  const training = new Map([...users].map(([k, v]) => [k, v.filter((t) => t < e.splitAt)] as const));
  const [hybridTraining] = replayTiming(training, [hybridHistogram()]);
  const hybrid = e.rows.find((r) => r.policy === 'hybrid-histogram')!;
  const best = bestTimingPolicy(e);
  const ours = e.rows.find((r) => r.policy === best)!;
  const b = evaluateBudget(users, { make: budgetedPolicy, shadow: hybridHistogram(), splitAt: e.splitAt, validateFrom: e.validateFrom, ...(log.programs ? { programs: log.programs } : {}) });
  const policies = [...baselines, hybridHistogram(), ...e.chosenOthers.map((o, i) => learnt[i]!.make(o.knob, training)), adaptiveWindow(e.chosen.costPerMinute)];
  return {
    policies,
    report: {
      users: users.size,
      splitAt: e.splitAt,
      validateFrom: e.validateFrom,
      hybridTraining: hybridTraining!,
      hybridValidation: e.chosen.hybridTraining,
      bounds: bounds.map(({ label, options }) => {
        const c = timingBound(training, { ...options, budgetMinutes: hybridTraining!.unusedMinutesPerSession });
        return { label, coldStartRate: c, ratioToHybrid: c / hybridTraining!.coldStartRate };
      }),
      chosen: [{ id: e.rows[e.rows.length - 1]!.policy, knob: e.chosen.costPerMinute, validation: e.chosen.training }, ...e.chosenOthers.map((o) => ({ id: o.id, knob: o.knob, validation: o.training }))],
      best,
      rows: e.rows.map((r) => ({ ...r, ratioToHybrid: r.coldStartRate / hybrid.coldStartRate })),
      acceptance: acceptanceOf(ours, hybrid),
      budget: {
        knobs: b.knobs,
        validation: b.validation,
        hybridValidation: b.shadowValidation,
        row: { ...b.row, ratioToHybrid: b.row.coldStartRate / hybrid.coldStartRate },
        acceptance: acceptanceOf(b.row, hybrid),
      },
    },
  };
}

const pct = (v: number): string => (100 * v).toFixed(1);

/**
 * The report as text: the bound, every policy in one table (the best on validation marked *), the
 * acceptance line with ✓/✗. `extra`: more columns for the table, per row and for the budget
 * controller's row (the bench adds builds).
 */
export function renderTimingReport(name: string, r: TimingReport, extra?: { header: string; cells: (row: number) => string; budgetCells?: string }): string {
  const b = r.budget;
  const out = [
    `${name}: ${r.users} users, sessions split at 30-minute gaps; training part: the first 70 % of the span (hybrid ${pct(r.hybridTraining.coldStartRate)} % cold at ${r.hybridTraining.unusedMinutesPerSession.toFixed(1)} unused min/session); knobs chosen on its last 15 % (hybrid ${pct(r.hybridValidation.coldStartRate)} % at ${r.hybridValidation.unusedMinutesPerSession.toFixed(1)}); the last 30 % scored once`,
    "bound on the training part, cold % at the hybrid's unused time (× the hybrid's):",
    ...r.bounds.map((b) => `  ${b.label.padEnd(50)} ${pct(b.coldStartRate)} % (${b.ratioToHybrid.toFixed(2)}×)`),
    ...r.chosen.map((c) => `${c.id}: chosen on validation, ${pct(c.validation.coldStartRate)} % cold at ${c.validation.unusedMinutesPerSession.toFixed(1)} min`),
    `policy (test part)                          | sessions | cold % | unused min/session | × hybrid${extra ? ` | ${extra.header}` : ''}`,
    ...r.rows.map((x, i) => `${(x.policy + (x.policy === r.best ? ' *' : '')).padEnd(43)} | ${String(x.sessions).padStart(8)} | ${pct(x.coldStartRate).padStart(6)} | ${x.unusedMinutesPerSession.toFixed(1).padStart(18)} | ${x.ratioToHybrid.toFixed(2).padStart(8)}${extra ? ` | ${extra.cells(i)}` : ''}`),
    `${r.acceptance.holds ? '✓' : '✗'} cold ≤ 0.5× the hybrid's at no more unused time: ${r.best} is ${r.acceptance.coldRatio.toFixed(3)}× as often cold at ${(100 * r.acceptance.unusedRatio).toFixed(0)} % of its unused time`,
    `budget controller (one threshold for all users at each moment, tracking the hybrid's running unused time per session; replayed in time order): gain ${b.knobs.gain}, window ${b.knobs.windowSessions} sessions, start ${b.knobs.startThreshold}, target ${b.knobs.targetShare} × the budget — chosen on validation, ${pct(b.validation.coldStartRate)} % cold at ${b.validation.unusedMinutesPerSession.toFixed(1)} min (hybrid ${pct(b.hybridValidation.coldStartRate)} % at ${b.hybridValidation.unusedMinutesPerSession.toFixed(1)})`,
    `${b.row.policy.padEnd(43)} | ${String(b.row.sessions).padStart(8)} | ${pct(b.row.coldStartRate).padStart(6)} | ${b.row.unusedMinutesPerSession.toFixed(1).padStart(18)} | ${b.row.ratioToHybrid.toFixed(2).padStart(8)}${extra?.budgetCells !== undefined ? ` | ${extra.budgetCells}` : ''}`,
    `${b.acceptance.holds ? '✓' : '✗'} cold ≤ 0.5× the hybrid's at no more unused time: the budget-controlled policy is ${b.acceptance.coldRatio.toFixed(3)}× as often cold at ${(100 * b.acceptance.unusedRatio).toFixed(0)} % of its unused time`,
  ];
  return out.join('\n');
}
