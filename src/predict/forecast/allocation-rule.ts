import betaQuantile from '@stdlib/stats-base-dists-beta-quantile';
import type { AllocationSummary } from './subject-allocation.js';

/**
 * Which allocation is deployed, read from validation only. The acceptance lines (≤ 5 % of steps
 * and ≤ 5 % of VMs above 10 % under) must hold on **every** rolling-origin fold, not on the folds
 * pooled — the validation slices are different weeks, and an allocation that passes only on their
 * sum passed on one good week — and the share of subjects above 10 % under must be *shown*
 * ≤ 5 %: the one-sided upper confidence bound (Clopper–Pearson, exact) of k subjects out of n
 * must be ≤ 5 %. 5 of 100 observed is no evidence of ≤ 5 % (its bound is 10.2 %); 1 of 100
 * (4.7 %) is, 0 of 50 (5.8 %) is not. This replaces the 4.5 % headroom on the pooled rate that was
 * set after a test-part run (docs/prediction.md says when and why it changed).
 */
export const allocationRule = { maxUnderRate: 0.05, maxSubjectShareOver10: 0.05, confidence: 0.95 } as const;

/** The upper end of the one-sided Clopper–Pearson interval for a share observed as `k` of `n`. */
export function shareUpperBound(k: number, n: number, confidence: number = allocationRule.confidence): number {
  if (n <= 0) return 1;
  if (k >= n) return 1;
  return betaQuantile(confidence, k + 1, n - k);
}

export interface AllocationEvidence {
  /** The largest share of steps above the allocation on any fold. */
  worstFoldRate: number;
  /** The largest upper bound, over the folds, of the share of subjects above 10 % under. */
  worstFoldSubjectBound: number;
  /** Both lines hold on every fold (with the bound). */
  holds: boolean;
}

export function allocationEvidence(folds: readonly AllocationSummary[]): AllocationEvidence {
  const measured = folds.filter((f) => f.steps > 0);
  const worstFoldRate = Math.max(0, ...measured.map((f) => f.underProvisioningRate));
  const worstFoldSubjectBound = measured.length === 0 ? 1 : Math.max(...measured.map((f) => shareUpperBound(f.subjectsOver10Percent, f.subjects)));
  const holds = measured.length > 0 && worstFoldRate <= allocationRule.maxUnderRate && worstFoldSubjectBound <= allocationRule.maxSubjectShareOver10;
  return { worstFoldRate, worstFoldSubjectBound, holds };
}

/**
 * The option with the least waste (over the folds) among those that hold. When none does —
 * with 50 subjects not even 0 of 50 shows ≤ 5 % — the one nearest to holding: every fold's rate
 * within its line first, then the lowest worst-fold bound (any bound under the line counts as
 * the line), then the least waste.
 */
export function pickAllocation<T extends { waste: number; evidence: AllocationEvidence }>(options: readonly T[]): T {
  const key = (o: T): [number, number, number] => [
    Math.max(0, o.evidence.worstFoldRate - allocationRule.maxUnderRate),
    Math.max(allocationRule.maxSubjectShareOver10, o.evidence.worstFoldSubjectBound),
    o.waste,
  ];
  return options.reduce((x, y) => {
    const [a, b] = [key(x), key(y)];
    for (let i = 0; i < a.length; i++) if (b[i]! !== a[i]!) return b[i]! < a[i]! ? y : x;
    return x;
  });
}
