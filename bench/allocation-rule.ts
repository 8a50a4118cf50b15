/**
 * The allocation rule checked on validation only: what it deploys from the two rolling-origin
 * folds selection uses, and — the rule checked on a week it did not see — what it deploys from
 * an earlier pair of folds and how that allocation does on the last validation slice. The
 * earlier fold (fit on 40 % of the training part, calibrate before 55 %, validate to 70 %)
 * exists only here. The rule before (pooled rate ≤ 4.5 %, pooled VM share ≤ 5 %) is printed
 * beside it. Training parts are the first 80 % of each Bitbrains VM, as `eval`'s split by time;
 * no test part is read.
 *
 *   bash scripts/bench allocation-rule      (needs ../shared/datasets; ~3 min per resource)
 */
import { allocationEvidence, pickAllocation } from '../src/predict/forecast/allocation-rule.js';
import { forecastCandidates, pooledSummary, validateCandidates } from '../src/predict/forecast/forecast-selection.js';
import type { AllocationSummary } from '../src/predict/forecast/subject-allocation.js';
import { allocationText as figures, benchHorizons, foldsWithEarlier, bitbrainsTrainingParts, pct, requireBitbrains } from './support/bitbrains-validation.js';

requireBitbrains();
const folds = foldsWithEarlier;
const horizons = benchHorizons;
// λ searched: `--shrinkages 0,0.5` (default: the deployed grid).
const flag = process.argv.indexOf('--shrinkages');
const shrinkages = flag > 0 ? process.argv[flag + 1]!.split(',').map(Number) : undefined;

interface Option {
  model: string;
  alpha: number;
  calibrationShare: number;
  shrinkage: number;
  folds: AllocationSummary[];
}

/** The rule before: the folds pooled, 4.5 % of steps, 5 % of subjects; the cheapest that holds. */
function pickBefore(options: readonly Option[], use: readonly number[]): Option | undefined {
  const ok = options.filter((o) => {
    const p = pooledSummary(use.map((i) => o.folds[i]!));
    return p.underProvisioningRate <= 0.045 && p.subjectsOver10Percent <= 0.05 * p.subjects;
  });
  return ok.reduce<Option | undefined>((x, y) => (!x || pooledSummary(use.map((i) => y.folds[i]!)).waste < pooledSummary(use.map((i) => x.folds[i]!)).waste ? y : x), undefined);
}

function pickRule(options: readonly Option[], use: readonly number[]): { option: Option; holds: boolean } {
  const scored = options.map((o) => {
    const f = use.map((i) => o.folds[i]!);
    return { option: o, waste: pooledSummary(f).waste, evidence: allocationEvidence(f) };
  });
  const best = pickAllocation(scored);
  return { option: best.option, holds: best.evidence.holds };
}

const name = (o: Option): string => `${o.model} α ${pct(o.alpha)} % on ${pct(o.calibrationShare)} %, λ ${o.shrinkage}`;
console.log('figures: steps above the allocation / VMs >10 % under / waste, per validation fold (1, 2, 3)');
for (const target of ['cpuPercent', 'memoryPercent'] as const) {
  const t0 = performance.now();
  const parts = (await bitbrainsTrainingParts(target));
  const candidates = forecastCandidates('percent', horizons);
  const validated = await validateCandidates({ parts, horizons, unit: 'percent', candidates, folds, shrinkages });
  for (const [hi, horizon] of horizons.entries()) {
    const options: Option[] = validated[hi]!.flatMap((byOption, ci) => byOption.map((o) => ({ model: candidates[ci]!.id, ...o })));
    const line = (label: string, o: Option | undefined, extra = ''): string => (o ? `  ${label}: ${name(o)}${extra} — ${o.folds.map(figures).join(' | ')}` : `  ${label}: nothing holds`);
    const now = pickRule(options, [1, 2]);
    const early = pickRule(options, [0, 1]);
    console.log(`${target}, ${horizon} steps ahead (${parts.length} VMs)`);
    console.log(line('rule, folds 2–3 (what selection deploys)', now.option, now.holds ? '' : ' (none holds: the nearest)'));
    console.log(line('rule before, folds 2–3', pickBefore(options, [1, 2])));
    console.log(line('rule from folds 1–2, then fold 3', early.option, early.holds ? '' : ' (none holds: the nearest)'));
    console.log(line('rule before from folds 1–2, then fold 3', pickBefore(options, [0, 1])));
  }
  console.log(`  (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
}
