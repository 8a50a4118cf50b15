/** The controller's knobs, chosen on a validation part (evaluate-budget.ts). */
export interface BudgetControllerOptions {
  /** Change of ln(threshold) per settled session, per running mean budget overspent by that session. */
  gain: number;
  /** Sessions in the running means of spending and budget (exponentially weighted; a plain mean until this many); the budget's is the error's scale. */
  windowSessions: number;
  /** The threshold (starts per minute) before any session has settled. */
  startThreshold: number;
  /** The spending aimed at, as a share of the budget (below 1: a margin for the lag of the means). */
  targetShare?: number;
}

/**
 * One threshold shared by every subject at each moment, set so that the running prepared-but-unused
 * time per session tracks a budget. The budget rule says where to spend (wherever the hazard is
 * highest, whoever's it is); this says how much: with a threshold fixed on a validation part the
 * spending follows that part's traffic, not the budget (docs/prediction.md, "Where Google's miss
 * comes from"). Integral control on ln(threshold): overspending raises it, underspending lowers it,
 * in proportion to the relative error of the running means. Only sessions that have settled (their
 * next session has started, so their windows are closed) are told to it: it never sees the future.
 */
export interface BudgetController {
  /** The threshold now, for every subject. */
  threshold(): number;
  /** A session settled: the unused minutes the policy prepared for it, and the budget's for it. */
  settle(spentMinutes: number, budgetMinutes: number): void;
  /** The running means (minutes per session). */
  means(): { spent: number; budget: number };
}

const lowest = Math.log(1e-5);
const highest = Math.log(0.5);

export function budgetController(options: BudgetControllerOptions): BudgetController {
  const target = options.targetShare ?? 1;
  let logThreshold = Math.log(options.startThreshold);
  let spent = 0;
  let budget = 0;
  let settled = 0;
  return {
    threshold: () => Math.exp(logThreshold),
    settle(spentMinutes, budgetMinutes) {
      settled++;
      const a = Math.max(1 / settled, 1 / options.windowSessions);
      spent += a * (spentMinutes - spent);
      budget += a * (budgetMinutes - budget);
      if (budget <= 0) return;
      // Integral control on the session's own error (scaled by the running budget): the threshold
      // integrates the overspending itself. Integrating the running means' error instead (a
      // low-passed error) lagged and swung: on the validation parts it spent 0.69–1.04× the
      // budget depending on the knobs.
      logThreshold = Math.min(highest, Math.max(lowest, logThreshold + (options.gain * (spentMinutes - target * budgetMinutes)) / budget));
    },
    means: () => ({ spent, budget }),
  };
}
