/**
 * The allocation rule by subject, on validation only: eval's split by subject (the VMs sorted by
 * id alternate into two groups; each group is held out in turn, the models fitted on the other
 * group A only). Two ways to validate for the held-out group B:
 *   - A only (before): the folds score A's VMs alone — 50 VMs, where even 0 of 50 cannot show
 *     ≤ 5 % of VMs above 10 % under, so the rule always takes "the nearest";
 *   - A ∪ B (now): the folds also score B's training parts, never fitted on (`unfitted`), each
 *     VM with its own margin — 100 VMs per fold.
 * For each, the rule's pick from folds 1–2 is scored on fold 3 on B's training parts (both groups
 * added up: all 100 VMs, each scored as a held-out VM), beside what selection would deploy from
 * folds 2–3. Training parts are the first 80 % of each Bitbrains VM, as `eval`'s; the earlier
 * fold (fit on 40 %, validate on [55 %, 70 %)) exists only here; no test part is read.
 *
 *   bash scripts/bench allocation-rule-subject      (needs ../shared/datasets; ~5 min per resource)
 */
import { allocationEvidence, pickAllocation } from '../src/predict/forecast/allocation-rule.js';
import { forecastCandidates, pooledSummary, validateCandidates, type TrainingPart } from '../src/predict/forecast/forecast-selection.js';
import type { AllocationSummary } from '../src/predict/forecast/subject-allocation.js';
import { allocationText as figures, benchHorizons, foldsWithEarlier, bitbrainsTrainingParts, pct, requireBitbrains } from './support/bitbrains-validation.js';

requireBitbrains();
const folds = foldsWithEarlier;
const horizons = benchHorizons;

interface Option {
  model: string;
  alpha: number;
  calibrationShare: number;
  shrinkage: number;
  /** Per fold: A ∪ B, A alone, B alone. */
  all: AllocationSummary[];
  fitted: AllocationSummary[];
  unfitted: AllocationSummary[];
}

/** The allocation rule (`pickAllocation`) on the folds `use` of the figures `on`. */
function pick(options: readonly Option[], on: 'all' | 'fitted', use: readonly number[]): { option: Option; holds: boolean } {
  const best = pickAllocation(options.map((o) => ({ option: o, waste: pooledSummary(use.map((i) => o[on][i]!)).waste, evidence: allocationEvidence(use.map((i) => o[on][i]!)) })));
  return { option: best.option, holds: best.evidence.holds };
}

const name = (o: Option): string => `${o.model} α ${pct(o.alpha)} % on ${pct(o.calibrationShare)} %`;
console.log('figures: steps above the allocation / VMs >10 % under / waste');
for (const target of ['cpuPercent', 'memoryPercent'] as const) {
  const t0 = performance.now();
  const sorted = (await bitbrainsTrainingParts(target)).sort((x, y) => (x.id < y.id ? -1 : 1));
  const groups: { fit: TrainingPart[]; held: TrainingPart[] }[] = [0, 1].map((g) => ({ fit: sorted.filter((_, i) => i % 2 !== g), held: sorted.filter((_, i) => i % 2 === g) }));
  const candidates = forecastCandidates('percent', horizons);
  // perGroup[group][horizon] = every option with its per-fold figures
  const perGroup: Option[][][] = [];
  for (const { fit, held } of groups) {
    const validated = await validateCandidates({ parts: fit, unfitted: held, horizons, unit: 'percent', candidates, folds });
    perGroup.push(validated.map((byCandidate) => byCandidate.flatMap((byOption, ci) => byOption.map((o) => ({ model: candidates[ci]!.id, alpha: o.alpha, calibrationShare: o.calibrationShare, shrinkage: o.shrinkage, all: o.folds, fitted: o.halves!.fitted, unfitted: o.halves!.unfitted })))));
  }
  for (const [hi, horizon] of horizons.entries()) {
    console.log(`${target}, ${horizon} steps ahead (${groups.map((g) => `${g.fit.length} fitted + ${g.held.length} held out`).join('; ')})`);
    for (const on of ['fitted', 'all'] as const) {
      const label = on === 'fitted' ? 'A only (before)' : 'A ∪ B (now)';
      const deployed = perGroup.map((byHorizon) => pick(byHorizon[hi]!, on, [1, 2]));
      const early = perGroup.map((byHorizon) => pick(byHorizon[hi]!, on, [0, 1]));
      const held = (o: Option, fold: number): AllocationSummary => o.unfitted[fold]!;
      console.log(
        `  ${label}, folds 2–3 (what selection deploys): ${deployed.map((d, g) => `group ${g + 1} held out: ${name(d.option)}${d.holds ? ', holds' : ', the nearest'} — validated ${d.option[on].slice(1).map(figures).join(' | ')}; held-out half ${d.option.unfitted.slice(1).map(figures).join(' | ')}`).join('; ')}`,
      );
      const fold3 = pooledSummary(early.map((d) => held(d.option, 2)));
      const ok = fold3.underProvisioningRate <= 0.05 && fold3.subjectsOver10Percent <= 0.05 * fold3.subjects;
      console.log(
        `  ${label}, folds 1–2, then fold 3 on the held-out VMs: ${early.map((d, g) => `group ${g + 1}: ${name(d.option)}${d.holds ? ', holds' : ', the nearest'} (${figures(held(d.option, 2))})`).join('; ')} → ${figures(fold3)} ${ok ? '✓' : '✗'}`,
      );
    }
    // Whether held-out VMs under-provision more than fitted ones, for the same options (every option of every candidate, fold 3, both groups).
    const gap = perGroup.flatMap((byHorizon) => byHorizon[hi]!.map((o) => o.unfitted[2]!.underProvisioningRate - o.fitted[2]!.underProvisioningRate)).sort((x, y) => x - y);
    console.log(`  held-out minus fitted VMs' rate of steps above, fold 3, over every option: median ${pct(gap[Math.floor(gap.length / 2)]!)} points (p10 ${pct(gap[Math.floor(gap.length * 0.1)]!)}, p90 ${pct(gap[Math.floor(gap.length * 0.9)]!)})`);
  }
  console.log(`  (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
}
