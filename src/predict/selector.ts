import type { AllocationEvidence } from './forecast/allocation-rule.js';

/**
 * Picks, per target, the model that won the backtest, so that a subject always gets the best
 * predictor available — a baseline when the network does not beat it.
 */
export interface Candidate {
  model: string;
  version: string;
  /** The figure the selection is made on. */
  score: number;
}

export interface Selection {
  target: string;
  metric: string;
  /** Lower is better (a loss) or higher is better (an accuracy). */
  better: 'lower' | 'higher';
  selected: string;
  candidates: Candidate[];
  /**
   * Resources: the model that drives the allocation, chosen by the same rolling-origin
   * validation (lowest waste within the limits) — a rule when the forecaster did not beat it —
   * and how each subject's own margin is calibrated: the share α of its steps the margin may
   * leave above, on the last `calibrationShare` of its history.
   */
  allocation?: {
    model: string;
    alpha: number;
    calibrationShare: number;
    /** λ towards the pooled excess quantile `pooledMargin` (`calibrated-allocation.ts`); both absent in model sets saved before λ: 0. */
    shrinkage?: number;
    pooledMargin?: number;
    validation: { underProvisioningRate: number; waste: number; subjectsOver10Percent: number; subjects: number };
    /** What the allocation rule read on the folds (absent in model sets saved before it). */
    evidence?: AllocationEvidence;
  };
}

export function selectBest(target: string, metric: string, better: 'lower' | 'higher', candidates: readonly Candidate[]): Selection {
  const usable = candidates.filter((c) => Number.isFinite(c.score));
  if (usable.length === 0) throw new Error(`no model could be scored for ${target}`);
  const best = usable.reduce((a, b) => (better === 'lower' ? (b.score < a.score ? b : a) : b.score > a.score ? b : a));
  return { target, metric, better, selected: best.model, candidates: [...candidates] };
}
