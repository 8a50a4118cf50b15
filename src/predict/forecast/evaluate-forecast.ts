import { AbortedError } from '../../core/errors.js';
import { allocationFigures, marginFor, type AllocationCase } from '../metrics.js';
import { pooledForecasterId, type ResourceUnit } from './pooled-forecaster.js';
import { calibrationOrigins, finalFitShare, forecastCandidates, pooledSummary, range, selectForecasts, trainingPart, type ForecastCandidate, type ForecastSelection, type TrainingPart } from './forecast-selection.js';
import type { AllocationEvidence } from './allocation-rule.js';
import { AllocationTally, boundsOf, sortedExcess, subjectMargin, type AllocationSummary } from './subject-allocation.js';
import { pooledExcessMargin } from './calibrated-allocation.js';

/**
 * The honest evaluation of the pooled forecaster against the rules: choices made on training
 * parts only (`selectForecasts`), then every candidate scored once on the test parts — by time
 * (every subject, its last `testFraction` held out) and by subject (two groups of subjects, each
 * scored with what was selected and fitted on the other group's training parts; a held-out
 * subject's margin still comes from its own past, as it would for a new machine with history).
 * By subject, the held-out group's training parts are validation-only subjects of its selection
 * (`validateCandidates`' `unfitted`): never fitted on, scored on the validation slices beside the
 * fitted group, so the allocation rule reads how the models do on machines they never saw.
 */
export interface ForecastSubject {
  id: string;
  category: string;
  series: Float64Array;
}

export const forecastSplits = ['time', 'subject'] as const;
export type ForecastSplit = (typeof forecastSplits)[number];

export interface ForecastScoreRow extends AllocationSummary {
  model: string;
  /** The α its margins were calibrated to and the share of the training part they were calibrated on (chosen on validation; a mean over the subject split's groups). */
  alpha: number;
  calibrationShare: number;
}

export interface ForecastEvaluation {
  target: string;
  horizon: number;
  split: ForecastSplit;
  /** One per selection: the time split has one, the subject split one per held-out group. */
  selections: {
    trainedOn: number;
    /** Subjects the selection validated on: the fitted ones, and by subject the held-out ones' training parts too. */
    validatedOn: number;
    scoredOn: number;
    forecastModel: string;
    allocationModel: string;
    /** False when no training part held a validation origin at this horizon: both models are the fallback rule, chosen on nothing. */
    validated: boolean;
    /** The allocation's calibration and what the allocation rule read on validation (`allocation-rule.ts`): whether it held, or was only the nearest. */
    allocation: {
      alpha: number;
      calibrationShare: number;
      shrinkage: number;
      evidence: AllocationEvidence;
      /** By subject: its validation figures (folds added up) on the fitted group and on the held-out group's training parts, apart. */
      halves?: { fitted: AllocationSummary; unfitted: AllocationSummary };
    };
    pooledModel: string;
    pooledAlpha: number;
  }[];
  rows: ForecastScoreRow[];
  /** The learnt forecaster: per selection, the trained candidate (pooled-quantile, pooled-median, pooled-median-5) with the lowest validation pinball. */
  pooled: ForecastScoreRow;
  /** The best rule on test pinball (picked after seeing the test part: this favours the rules). */
  bestBaselinePinball: { model: string; pinballP95: number };
  /**
   * The lowest waste any rule reaches at the pooled forecaster's test rate, its one margin tuned
   * on the test part (favours the rules too), among the rules that then hold ≤ 5 % of VMs above
   * 10 % under ("none" when no rule does).
   */
  bestBaselineAtRate: { model: string; waste: number; rate: number; subjectsOver10Percent: number };
  pinballRatio: number;
  /**
   * False when a selection of this split had nothing to validate on at this horizon (traces of a
   * few days, next day: every validation slice is shorter than the horizon). Then nothing was
   * chosen — "pooled" and "deployed" are the fallback rule (`noEvidenceFallback`), its α and slice
   * the first of the grid — and no acceptance line is judged (`acceptance` null).
   */
  validated: boolean;
  acceptance: { pinball: boolean; steps: boolean; subjects: boolean; waste: boolean } | null;
  /**
   * What would be deployed: in each group, the allocation of the model selection named to drive
   * it (a rule, when the pooled forecaster did not win on validation), with its calibration —
   * against the best rule at that rate, found the same way as for the pooled row.
   */
  deployed: { models: string[]; summary: AllocationSummary; bestBaselineAtRate: { model: string; waste: number; rate: number; subjectsOver10Percent: number }; acceptance: { steps: boolean; subjects: boolean; waste: boolean } | null };
}

export interface ForecastEvaluationOptions {
  subjects: readonly ForecastSubject[];
  target: string;
  unit: ResourceUnit;
  horizons: readonly number[];
  testFraction: number;
  /** Score every n-th origin of the test parts. */
  originStride: number;
  splits?: readonly ForecastSplit[];
  /** Candidates (default: every rule and the pooled forecaster). */
  candidates?: readonly ForecastCandidate[];
  signal?: AbortSignal;
  onStep?: (text: string) => void;
  /** Called with each selection as it is made (tests use it to see what selection decided). */
  onSelection?: (split: ForecastSplit, group: number, selections: readonly ForecastSelection[]) => void;
  /**
   * The machine a subject's series is of (default: its id). By subject, every series of one
   * machine lands in the same group, so a machine scored is one never fitted on — PlanetLab's
   * subjects are VM-days, and a VM comes back on other days.
   */
  machineOf?: (id: string) => string;
}

interface Scored {
  part: TrainingPart;
  /** The whole series: only the scoring reads past the training part. */
  series: Float64Array;
  testStart: number;
  index: number;
}

export async function evaluateForecast(options: ForecastEvaluationOptions): Promise<ForecastEvaluation[]> {
  const { subjects, horizons, unit, signal } = options;
  const candidates = options.candidates ?? forecastCandidates(unit, horizons);
  const all: Scored[] = subjects.map((s, index) => {
    const testStart = Math.floor(s.series.length * (1 - options.testFraction));
    return { part: trainingPart(s.id, s.category, s.series, testStart), series: s.series, testStart, index };
  });
  const out: ForecastEvaluation[] = [];
  for (const split of options.splits ?? forecastSplits) {
    const groups: { fit: Scored[]; scored: Scored[] }[] =
      split === 'time'
        ? [{ fit: all, scored: all }]
        : [0, 1].map((g) => {
            // Machines sorted by name alternate into the two groups.
            const machineOf = options.machineOf ?? ((id: string) => id);
            const machines = [...new Set(all.map((x) => machineOf(x.part.id)))].sort((x, y) => (x < y ? -1 : 1));
            const groupOf = new Map(machines.map((m, i) => [m, i % 2]));
            const sorted = [...all].sort((x, y) => (x.part.id < y.part.id ? -1 : 1));
            const inGroup = (x: Scored): boolean => groupOf.get(machineOf(x.part.id)) === g;
            return { fit: sorted.filter((x) => !inGroup(x)), scored: sorted.filter(inGroup) };
          });
    const tallies = horizons.map(() => candidates.map(() => new AllocationTally()));
    const deployed = horizons.map(() => new AllocationTally());
    // The learnt forecaster scored as "pooled": per group, the trained candidate with the lowest validation pinball.
    const learntTally = horizons.map(() => new AllocationTally());
    const learntAlphas = horizons.map((): number[] => []);
    const learntShares = horizons.map((): number[] => []);
    const cases = horizons.map(() => candidates.map((): AllocationCase[] => []));
    const selectionsMade: ForecastEvaluation['selections'][] = horizons.map(() => []);
    const alphas = horizons.map(() => candidates.map((): number[] => []));
    const shares = horizons.map(() => candidates.map((): number[] => []));
    for (const [g, group] of groups.entries()) {
      options.onStep?.(`${options.target}: selecting on the training parts of ${group.fit.length} subjects (${split === 'time' ? 'split by time' : `subject group ${g + 1}/2 held out`})`);
      const parts = group.fit.map((s) => s.part);
      const unfitted = split === 'subject' ? group.scored.map((s) => s.part) : [];
      const selections = await selectForecasts({ parts, unfitted, horizons, unit, candidates, ...(signal ? { signal } : {}), ...(options.onStep ? { onStep: options.onStep } : {}) });
      options.onSelection?.(split, g, selections);
      options.onStep?.(`${options.target}: scoring ${candidates.length} models once on the test parts of ${group.scored.length} subjects`);
      const drives = selections.map((sel) => candidates.findIndex((c) => c.id === sel.allocationModel));
      const learnt = selections.map((sel) => {
        const trained = sel.validation.filter((v) => candidates.find((c) => c.id === v.model)?.trained);
        if (trained.length === 0) return -1;
        // Nothing validated: no learnt candidate can be preferred to another, so the row is the rule selection fell back to, under its name.
        const best = sel.validated ? trained.reduce((x, y) => (y.pinballP95 < x.pinballP95 ? y : x)) : sel.validation.find((v) => v.model === sel.forecastModel)!;
        learntAlphas[selections.indexOf(sel)]!.push(best.alpha);
        learntShares[selections.indexOf(sel)]!.push(best.calibrationShare);
        return candidates.findIndex((c) => c.id === best.model);
      });
      const fitData = parts.map((p) => p.values.slice(0, Math.floor(p.values.length * finalFitShare)));
      for (const [ci, cand] of candidates.entries()) {
        if (signal?.aborted) throw new AbortedError('forecast evaluation');
        const model = cand.create();
        if (cand.trained) await model.fit(fitData, { ...(signal ? { signal } : {}) });
        for (const [hi, horizon] of horizons.entries()) {
          const { alpha, share, shrinkage } = selections[hi]!.calibration[cand.id]!;
          // The pooled excess quantile from the subjects selection saw (the other group, by subject), as `train` keeps it:
          // what λ shrinks towards and what a subject too short to calibrate gets; computed once, when one of them needs it.
          let pooled: { margin: number | undefined } | undefined;
          const pooledMargin = (): number | undefined => (pooled ??= { margin: pooledExcessMargin(model, parts.map((p) => p.values), horizon, { alpha, calibrationShare: share }) }).margin;
          alphas[hi]![ci]!.push(alpha);
          shares[hi]![ci]!.push(share);
          for (const s of group.scored) {
            const L = s.testStart;
            const cal = calibrationOrigins(L, share, horizon);
            const test = range(Math.max(1, s.testStart), s.series.length - horizon, options.originStride);
            if (test.length === 0) continue;
            const f = model.predict({ series: s.series, origins: [...cal, ...test], horizon });
            const excess = sortedExcess(s.part.values, cal, f.subarray(0, cal.length), horizon);
            const { margin } = subjectMargin({ excess, alpha, pooled: shrinkage > 0 || excess.length === 0 ? pooledMargin() : undefined, shrinkage });
            const ft = f.subarray(cal.length);
            tallies[hi]![ci]!.add(s.series, test, ft, horizon, margin, boundsOf(unit));
            if (drives[hi] === ci) deployed[hi]!.add(s.series, test, ft, horizon, margin, boundsOf(unit));
            if (learnt[hi] === ci) learntTally[hi]!.add(s.series, test, ft, horizon, margin, boundsOf(unit));
            test.forEach((t, i) => cases[hi]![ci]!.push({ forecast: ft[i]!, actual: s.series.subarray(t, t + horizon), subject: s.index }));
          }
        }
      }
      selections.forEach((sel, hi) =>
        selectionsMade[hi]!.push({
          trainedOn: group.fit.length,
          validatedOn: group.fit.length + unfitted.length,
          scoredOn: group.scored.length,
          forecastModel: sel.forecastModel,
          allocationModel: sel.allocationModel,
          validated: sel.validated,
          allocation: (({ alpha, calibrationShare, shrinkage, evidence, halves }) => ({
            alpha,
            calibrationShare,
            shrinkage,
            evidence,
            ...(halves ? { halves: { fitted: pooledSummary(halves.fitted), unfitted: pooledSummary(halves.unfitted) } } : {}),
          }))(sel.validation.find((v) => v.model === sel.allocationModel)!),
          pooledModel: candidates[learnt[hi]!]?.id ?? 'none',
          pooledAlpha: sel.calibration[candidates[learnt[hi]!]?.id ?? pooledForecasterId]?.alpha ?? NaN,
        }),
      );
    }
    for (const [hi, horizon] of horizons.entries()) {
      const rows = candidates.map((cand, ci) => ({ model: cand.id, alpha: mean(alphas[hi]![ci]!), calibrationShare: mean(shares[hi]![ci]!), ...tallies[hi]![ci]!.summary() }));
      const isRule = (ci: number): boolean => !candidates[ci]!.trained;
      const pooled: ForecastScoreRow = {
        model: [...new Set(selectionsMade[hi]!.map((x) => x.pooledModel))].join(' / '),
        alpha: mean(learntAlphas[hi]!),
        calibrationShare: mean(learntShares[hi]!),
        ...learntTally[hi]!.summary(),
      };
      const rules = rows.filter((_, ci) => isRule(ci));
      const bestPinball = rules.reduce((x, y) => (y.pinballP95 < x.pinballP95 ? y : x));
      const { floor, cap } = boundsOf(unit);
      // A rule that reaches the rate only by giving up on more than 5 % of the VMs is no allocation to match.
      const bestRuleAtRate = (rate: number): { model: string; waste: number; subjectsOver10Percent: number } =>
        candidates
          .map((cand, ci) => ({ cand, ci }))
          .filter(({ ci }) => isRule(ci))
          .map(({ cand, ci }) => {
            const c = cases[hi]![ci]!;
            const fig = allocationFigures(c, marginFor(c, rate, floor, cap), floor, cap);
            return { model: cand.id, waste: fig.waste, subjectsOver10Percent: fig.subjectsOver10Percent };
          })
          .filter((r) => r.subjectsOver10Percent <= 0.05 * pooled.subjects)
          .reduce<{ model: string; waste: number; subjectsOver10Percent: number } | undefined>((x, y) => (!x || y.waste < x.waste ? y : x), undefined) ?? { model: 'none', waste: Infinity, subjectsOver10Percent: NaN };
      const atRate = bestRuleAtRate(pooled.underProvisioningRate);
      const dep = deployed[hi]!.summary();
      const depAtRate = bestRuleAtRate(dep.underProvisioningRate);
      const pinballRatio = pooled.pinballP95 / bestPinball.pinballP95;
      const validated = selectionsMade[hi]!.every((x) => x.validated);
      out.push({
        target: options.target,
        horizon,
        split,
        selections: selectionsMade[hi]!,
        rows,
        pooled,
        bestBaselinePinball: { model: bestPinball.model, pinballP95: bestPinball.pinballP95 },
        bestBaselineAtRate: { ...atRate, rate: pooled.underProvisioningRate },
        pinballRatio,
        validated,
        acceptance: validated
          ? {
              pinball: pinballRatio <= 0.9,
              steps: pooled.underProvisioningRate <= 0.05,
              subjects: pooled.subjectsOver10Percent <= 0.05 * pooled.subjects,
              waste: pooled.waste <= atRate.waste,
            }
          : null,
        deployed: {
          models: [...new Set(selectionsMade[hi]!.map((x) => x.allocationModel))],
          summary: dep,
          bestBaselineAtRate: { ...depAtRate, rate: dep.underProvisioningRate },
          acceptance: validated ? { steps: dep.underProvisioningRate <= 0.05, subjects: dep.subjectsOver10Percent <= 0.05 * dep.subjects, waste: dep.waste <= depAtRate.waste } : null,
        },
      });
    }
  }
  return out;
}

function mean(xs: readonly number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}
