import { AbortedError } from '../../core/errors.js';
import { createResourceBaseline, resourceBaselineIds } from '../models/baselines/resource-baselines.js';
import type { ResourceModel } from '../models/model.js';
import { createPooledForecaster, pooledForecasterId, type ResourceUnit } from './pooled-forecaster.js';
import { createPooledMedian, pooledMedian, pooledMedianFive } from './pooled-median.js';
import { allocationEvidence, pickAllocation, type AllocationEvidence } from './allocation-rule.js';
import { AllocationTally, boundsOf, conformalMargin, mergeExcess, sortedExcess, subjectMargin, type AllocationSummary } from './subject-allocation.js';

/**
 * Every choice of the forecasting pipeline — which model forecasts, which drives the
 * allocation, how much of each subject's steps its margin may leave above (α), how far that
 * margin is shrunk towards the pooled one (λ) — made by
 * rolling-origin validation inside the training parts. The selection receives nothing but
 * `TrainingPart`s: copies of each subject's training prefix, so the test part is not reachable
 * from here (not through a subarray's buffer either).
 *
 * Inside a training part of length L, fold k (k = 0, 1) fits on [0, a_k), calibrates each
 * subject's margin on [a_k, b_k) and validates on [b_k, c_k), with (a, b, c) = (0.55, 0.7, 0.85)·L
 * and (0.7, 0.85, 1)·L: the origin rolls forward, every validation slice is after what was fitted.
 * What drives the allocation is chosen by `allocation-rule.ts` from the folds one by one.
 *
 * Validation-only subjects (`unfitted`, eval's split by subject): the held-out VMs' training
 * parts, never fitted on, scored on each fold's validation slice beside the fitted subjects with
 * their own margins — a held-out VM is a new machine *with history*, and its history is what the
 * rule may read about machines the models never saw. Their test parts are as unreachable as the
 * fitted subjects' (they are `TrainingPart`s too).
 */
export interface TrainingPart {
  readonly id: string;
  readonly category: string;
  /** A copy of the subject's series before its test part. */
  readonly values: Float64Array;
}

/** The only way the evaluation hands a subject to the selection: a copy that ends where the test part starts. */
export function trainingPart(id: string, category: string, series: Float64Array, testStart: number): TrainingPart {
  return Object.freeze({ id, category, values: series.slice(0, testStart) });
}

export interface ForecastCandidate {
  readonly id: string;
  /** Fitted on the training data (the rules are not). */
  readonly trained: boolean;
  create(): ResourceModel;
}

export function forecastCandidates(unit: ResourceUnit, horizons: readonly number[]): ForecastCandidate[] {
  return [
    ...resourceBaselineIds.map((id) => ({ id, trained: false, create: () => createResourceBaseline(id) })),
    { id: pooledForecasterId, trained: true, create: () => createPooledForecaster({ unit, horizons }) },
    { id: pooledMedian.id, trained: true, create: () => createPooledMedian(pooledMedian, { unit, horizons }) },
    { id: pooledMedianFive.id, trained: true, create: () => createPooledMedian(pooledMedianFive, { unit, horizons }) },
  ];
}

/** The shares of its own steps a subject's margin may leave above it, searched on validation. */
export const alphaGrid = [0.01, 0.02, 0.03, 0.04, 0.05, 0.07] as const;
/**
 * How much of its own training part a subject's margin is calibrated on (the slice just before
 * what it is applied to). A day-ahead margin calibrated on 15 % of a month sees three days; a
 * longer slice overlaps what the pooled model was fitted on (its 22 coefficients hardly overfit a
 * pool of machines), so which is better is left to validation.
 */
export const calibrationShares = [0.15, 0.4] as const;
/**
 * How far each subject's margin may be shrunk towards the pooled excess quantile (λ,
 * `shrunkMargin`), searched with α and the slice. Deployed: λ = 0 only. λ ∈ {0, 0.5} chosen by
 * the rule on validation was run once through `eval` (docs/prediction.md, "Per-VM margins shrunk
 * towards the pooled margin"): it let cheaper allocations pass validation that then left more
 * VMs above 10 % under on the test parts, so it is not the default. `validateCandidates` and
 * `selectForecasts` take another grid (`shrinkages`) for tests and benches.
 */
export const shrinkageGrid: readonly number[] = [0];
/** The calibration rules searched: every share × every α × every λ. */
export function calibrationGridOf(shrinkages: readonly number[] = shrinkageGrid): { share: (typeof calibrationShares)[number]; alpha: (typeof alphaGrid)[number]; shrinkage: number }[] {
  return calibrationShares.flatMap((share) => alphaGrid.flatMap((alpha) => shrinkages.map((shrinkage) => ({ share, alpha, shrinkage }))));
}

export interface CandidateValidation extends AllocationSummary {
  model: string;
  /** The α chosen for this model (its cheapest feasible one on validation), and the calibration slice's share of the training part. */
  alpha: number;
  calibrationShare: number;
  /** λ: how far each subject's margin is shrunk towards the pooled excess quantile (chosen with α). */
  shrinkage: number;
  /** The same figures on each rolling-origin fold. */
  folds: AllocationSummary[];
  /** Per fold, the fitted subjects' and the validation-only subjects' figures apart (when there were validation-only subjects). */
  halves?: { fitted: AllocationSummary[]; unfitted: AllocationSummary[] };
  /** What the allocation rule read from the folds (`allocation-rule.ts`). */
  evidence: AllocationEvidence;
  /** It holds the allocation rule on validation. */
  feasible: boolean;
}

export interface ForecastSelection {
  horizon: number;
  /** Lowest validation pinball at p95. */
  forecastModel: string;
  /** Lowest validation waste among the allocations that hold the allocation rule on every fold (else the nearest): a rule when the pooled forecaster did not beat it. */
  allocationModel: string;
  calibration: Record<string, { alpha: number; share: number; shrinkage: number }>;
  validation: CandidateValidation[];
  /**
   * False when no training part was long enough to hold a validation origin at this horizon
   * (train on a few days of history): nothing was measured, so both choices fall back to
   * `noEvidenceFallback` — said, not hidden.
   */
  validated: boolean;
}

/** What is chosen when nothing could be validated: the day's p95, the rule operators use without a forecaster. */
export const noEvidenceFallback = 'moving-p95-288';
/**
 * And the margin it is calibrated with then: the grid's most cautious α on the shorter slice, no
 * shrinkage. With nothing measured, the margin a subject's own history allows at 1 % above it
 * (or the pooled one, `subjectMargin`) is the safe side; waste cannot be weighed against nothing.
 */
export const noEvidenceCalibration = { alpha: alphaGrid[0], share: calibrationShares[0], shrinkage: 0 } as const;

export const foldBounds = [
  [0.55, 0.7, 0.85],
  [0.7, 0.85, 1],
] as const;

/**
 * After selection, the trained candidates are fitted on this share of each training part (the
 * rest is the calibration slice of the largest fold) — by `eval` before it scores the test parts
 * and by `train` before it stores the models.
 */
export const finalFitShare = 0.85;

/** The origins a subject's margin is calibrated on: the last `share` of its history of length L, one forecast every strideFor(horizon). */
export function calibrationOrigins(L: number, share: number, horizon: number): number[] {
  return range(Math.max(1, L - Math.floor(L * share)), L - horizon, strideFor(horizon));
}

export function strideFor(horizon: number): number {
  return horizon >= 144 ? 24 : Math.max(1, Math.min(12, horizon));
}

/** Each option's validation figures, per rolling-origin fold: what the allocation rule reads. */
export interface OptionValidation {
  alpha: number;
  calibrationShare: number;
  shrinkage: number;
  /** Every validated subject, fitted and validation-only together. */
  folds: AllocationSummary[];
  /** The same per fold for each half, when validation-only subjects were given: the fitted subjects, and those never fitted on. */
  halves?: { fitted: AllocationSummary[]; unfitted: AllocationSummary[] };
}

/** Which subjects a fold's figures come from: those the candidates were fitted on, or validation-only ones. */
const halves = ['fitted', 'unfitted'] as const;

/**
 * Validation of every candidate × calibration option at every horizon: per fold, the candidate
 * fitted on the fold's fitted part, each subject's margin calibrated on the slice before the
 * fold's validation slice and applied to it. Returned as [horizon][candidate][option].
 */
export async function validateCandidates(args: {
  parts: readonly TrainingPart[];
  /** Subjects validated on but never fitted on (the held-out group of eval's split by subject). */
  unfitted?: readonly TrainingPart[];
  horizons: readonly number[];
  unit: ResourceUnit;
  candidates: readonly ForecastCandidate[];
  /** The rolling origins (default `foldBounds`). */
  folds?: readonly (readonly [number, number, number])[];
  /** The λ searched (default `shrinkageGrid`). */
  shrinkages?: readonly number[];
  signal?: AbortSignal;
  onStep?: (text: string) => void;
}): Promise<OptionValidation[][][]> {
  const { parts, horizons, unit, candidates, signal } = args;
  const unfitted = args.unfitted ?? [];
  const validated = [...parts.map((part) => ({ part, half: 0 })), ...unfitted.map((part) => ({ part, half: 1 }))];
  const folds = args.folds ?? foldBounds;
  const calibrationGrid = calibrationGridOf(args.shrinkages);
  const bounds = boundsOf(unit);
  // tallies[horizon][candidate][option][fold][half]
  const tallies = horizons.map(() => candidates.map(() => calibrationGrid.map(() => folds.map(() => halves.map(() => new AllocationTally())))));
  for (const [fold, [a, b, c]] of folds.entries()) {
    // One array per fold for every candidate: the pooled regression is then fitted once (fitsMade).
    const fitData = parts.map((p) => p.values.slice(0, Math.floor(p.values.length * a)));
    for (const [ci, cand] of candidates.entries()) {
      if (signal?.aborted) throw new AbortedError('forecast selection');
      const model = cand.create();
      if (cand.trained) {
        args.onStep?.(`validation fold ${fold + 1}/${folds.length}: fitting ${cand.id} on ${parts.length} training parts`);
        await model.fit(fitData, { ...(signal ? { signal } : {}) });
      }
      for (const [hi, horizon] of horizons.entries()) {
        const stride = strideFor(horizon);
        // First every subject's forecasts and calibration excess, then the pooled excess quantile
        // (over the subjects of this fold), then each subject's shrunk margin on its validation slice.
        const scored: { half: number; seen: Float64Array; val: number[]; fv: Float64Array; excess: Float64Array[] }[] = [];
        for (const { part: p, half } of validated) {
          const L = p.values.length;
          const [calEnd, valEnd] = [Math.floor(L * b), Math.floor(L * c)];
          const val = range(Math.max(1, calEnd), valEnd - horizon, stride);
          if (val.length === 0) continue;
          const seen = p.values.subarray(0, valEnd);
          const longest = range(Math.max(1, calEnd - Math.floor(L * Math.max(...calibrationShares))), calEnd - horizon, stride);
          const f = model.predict({ series: seen, origins: [...longest, ...val], horizon });
          const excess = calibrationShares.map((share) => {
            const from = Math.max(1, calEnd - Math.floor(L * share));
            const first = longest.findIndex((t) => t >= from);
            const cal = first < 0 ? [] : longest.slice(first);
            return sortedExcess(seen, cal, f.subarray(first < 0 ? longest.length : first, longest.length), horizon);
          });
          scored.push({ half, seen, val, fv: f.subarray(longest.length), excess });
        }
        // Over the fitted subjects only, as eval and train compute it (`pooledExcessMargin`).
        const pooled = calibrationShares.map((_, si) => mergeExcess(scored.filter((x) => x.half === 0).map((x) => x.excess[si]!)));
        const pooledMargins = calibrationGrid.map((g) => {
          const merged = pooled[calibrationShares.indexOf(g.share)]!;
          return merged.length === 0 ? undefined : conformalMargin(merged, g.alpha);
        });
        for (const x of scored) {
          calibrationGrid.forEach((g, gi) => {
            // The rule deployed (`subjectMargin`): a subject whose slice holds no origin is validated with the pooled margin.
            const { margin } = subjectMargin({ excess: x.excess[calibrationShares.indexOf(g.share)]!, alpha: g.alpha, pooled: pooledMargins[gi], shrinkage: g.shrinkage });
            tallies[hi]![ci]![gi]![fold]![x.half]!.add(x.seen, x.val, x.fv, horizon, margin, bounds);
          });
        }
      }
    }
  }
  return tallies.map((byCandidate) =>
    byCandidate.map((byOption) =>
      byOption.map((byFold, gi) => ({
        alpha: calibrationGrid[gi]!.alpha,
        calibrationShare: calibrationGrid[gi]!.share,
        shrinkage: calibrationGrid[gi]!.shrinkage,
        folds: byFold.map(([fitted, out]) => new AllocationTally().merge(fitted!).merge(out!).summary()),
        ...(unfitted.length > 0 ? { halves: { fitted: byFold.map((t) => t[0]!.summary()), unfitted: byFold.map((t) => t[1]!.summary()) } } : {}),
      })),
    ),
  );
}

export async function selectForecasts(args: {
  parts: readonly TrainingPart[];
  /** Subjects validated on but never fitted on (`validateCandidates`). */
  unfitted?: readonly TrainingPart[];
  horizons: readonly number[];
  unit: ResourceUnit;
  candidates: readonly ForecastCandidate[];
  /** The λ searched (default `shrinkageGrid`). */
  shrinkages?: readonly number[];
  signal?: AbortSignal;
  onStep?: (text: string) => void;
}): Promise<ForecastSelection[]> {
  const { horizons, candidates } = args;
  const validated = await validateCandidates(args);
  return horizons.map((horizon, hi) => {
    const validation = candidates.map((cand, ci): CandidateValidation => {
      const options = validated[hi]![ci]!.map((o) => ({ ...o, ...pooledSummary(o.folds), evidence: allocationEvidence(o.folds) }));
      const best = pickAllocation(options);
      return { model: cand.id, ...best, feasible: best.evidence.holds };
    });
    if (validation.every((v) => v.steps === 0)) {
      const fallback = candidates.find((c) => c.id === noEvidenceFallback)?.id ?? candidates[0]!.id;
      const calibration = Object.fromEntries(validation.map((v) => [v.model, { ...noEvidenceCalibration }]));
      return { horizon, forecastModel: fallback, allocationModel: fallback, calibration, validation, validated: false };
    }
    const calibration = Object.fromEntries(validation.map((v) => [v.model, { alpha: v.alpha, share: v.calibrationShare, shrinkage: v.shrinkage }]));
    const measured = validation.filter((v) => v.steps > 0);
    const forecastModel = measured.reduce((x, y) => (y.pinballP95 < x.pinballP95 ? y : x)).model;
    const allocationModel = pickAllocation(measured).model;
    return { horizon, forecastModel, allocationModel, calibration, validation, validated: true };
  });
}

/** The folds' figures added up (each subject counted once per fold it was validated on). */
export function pooledSummary(folds: readonly AllocationSummary[]): AllocationSummary {
  const steps = folds.reduce((n, f) => n + f.steps, 0);
  const w = (f: AllocationSummary): number => f.steps / (steps || 1);
  return {
    underProvisioningRate: folds.reduce((x, f) => x + w(f) * f.underProvisioningRate, 0),
    waste: folds.reduce((x, f) => x + w(f) * f.waste, 0),
    pinballP95: folds.reduce((x, f) => x + w(f) * f.pinballP95, 0),
    subjectsOver10Percent: folds.reduce((n, f) => n + f.subjectsOver10Percent, 0),
    subjects: folds.reduce((n, f) => n + f.subjects, 0),
    steps,
  };
}

export function range(from: number, toInclusive: number, stride: number): number[] {
  const out: number[] = [];
  for (let t = from; t <= toInclusive; t += stride) out.push(t);
  return out;
}
