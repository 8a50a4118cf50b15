/**
 * How many rolling-origin folds should selection use? Checked on training parts only (the first
 * 80 % of each Bitbrains VM, as `eval`'s split by time; no test part is read). Prompted by a test
 * part: pooled-quantile alone scored 0.933× (CPU) / 0.948× (memory) of the best rule next day on
 * the test parts, and two folds of 15 % (about 3.5 days each) never picked it.
 *
 *   bash scripts/bench selection-folds      (needs ../shared/datasets; several minutes per resource)
 *
 * PRE-REGISTERED (written before any figure was looked at; not changed after):
 * - Folds inside each training part of length L, each (fit end, calibration end, validation end)·L:
 *   F1 = (0.25, 0.4, 0.55), F2 = (0.4, 0.55, 0.7), F3 = (0.55, 0.7, 0.85), F4 = (0.7, 0.85, 1).
 *   One `validateCandidates` run over the four folds; every selection below reads its folds only.
 * - A selection from a set of folds S, exactly as `selectForecasts`/`eval` choose:
 *   the learnt row = the trained candidate with the lowest pinball at p95 over S (`pooledSummary`),
 *   with its own (α, slice, λ) by `pickAllocation` over its options on S (`allocationEvidence`);
 *   the deployed allocation = `pickAllocation` among every candidate's pick.
 * - Held-out F4: S = {F3} (1 fold), {F2, F3} (2, today's), {F1, F2, F3} (3).
 *   Held-out F3 (the same one fold earlier): S = {F2} (1), {F1, F2} (2).
 *   Figures on the held-out fold: the learnt pick's pinball ÷ the best rule's on that fold (the
 *   best of the ten rules picked on the held-out fold, as eval's "best rule"); the learnt pick's
 *   steps above / VMs > 10 % under / waste; the deployed model and the same three figures.
 * - "k + 1 folds pick better than k on a held-out fold" iff, next day (288 steps), for CPU and for
 *   memory: the learnt ratio is no higher, the deployed allocation's VMs > 10 % under no more, and
 *   its steps above ≤ 5 % whenever k's were; the next hour (12 steps) no worse by the same three
 *   figures; and at least one next-day figure strictly better. The same picks are not better.
 * - Decision: `foldBounds` becomes three folds (F2, F3, F4 of the product's naming: (0.4, 0.55,
 *   0.7), (0.55, 0.7, 0.85), (0.7, 0.85, 1)) only if {F1, F2, F3} picks better than {F2, F3} on F4
 *   AND {F1, F2} picks better than {F2} on F3. Otherwise nothing changes in the product.
 * - A bound for the owner, per held-out fold (F3, F4): each VM's best candidate *in hindsight* on
 *   that fold (lowest pinball of the VM's own validation steps, among every candidate: rules and
 *   learnt) — the most any per-VM choice among today's candidates could get — as a ratio to the
 *   best rule on the fold. Above 0.9×, no selection among these candidates can reach the line.
 * Deterministic: the learnt candidates are gradient-free and the rules have no randomness.
 */
import { allocationEvidence, pickAllocation } from '../src/predict/forecast/allocation-rule.js';
import { forecastCandidates, pooledSummary, validateCandidates, type ForecastCandidate, type OptionValidation } from '../src/predict/forecast/forecast-selection.js';
import { peakQuantile, pinball } from '../src/predict/metrics.js';
import { allocationText as figures, benchHorizons, bitbrainsTrainingParts, pct, requireBitbrains } from './support/bitbrains-validation.js';

requireBitbrains();
const folds = [
  [0.25, 0.4, 0.55],
  [0.4, 0.55, 0.7],
  [0.55, 0.7, 0.85],
  [0.7, 0.85, 1],
] as const;
/** Fold indices (0 = F1): the selection sets, each scored on its held-out fold. */
const checks = [
  { heldOut: 3, sets: [[2], [1, 2], [0, 1, 2]] },
  { heldOut: 2, sets: [[1], [0, 1]] },
] as const;
const horizons = benchHorizons;
const targets = process.argv.includes('--memory-only') ? (['memoryPercent'] as const) : process.argv.includes('--cpu-only') ? (['cpuPercent'] as const) : (['cpuPercent', 'memoryPercent'] as const);
const foldName = (i: number): string => `F${i + 1}`;
const setName = (s: readonly number[]): string => `{${s.map(foldName).join(',')}}`;

/**
 * Each candidate's pinball per VM, fold and horizon on the validation slice, recorded as
 * `validateCandidates` asks for the forecasts (it is not otherwise exposed): the fold is known
 * from where the series it is given ends, the validation origins from where the calibration slice ends.
 */
type PerVm = Map<string, { sum: number; steps: number }>; // key: `${fold}/${horizon}/${vm}#${candidate}`
function recording(cand: ForecastCandidate, parts: readonly { id: string; values: Float64Array }[], into: PerVm): ForecastCandidate {
  const byBuffer = new Map(parts.map((p) => [p.values.buffer, p]));
  return {
    ...cand,
    create: () => {
      const model = cand.create();
      const predict = model.predict.bind(model);
      model.predict = (q) => {
        const out = predict(q);
        const part = byBuffer.get(q.series.buffer as ArrayBuffer);
        const L = part?.values.length ?? 0;
        const fold = folds.findIndex(([, , c]) => Math.floor(L * c) === q.series.length);
        if (!part || fold < 0) return out;
        const calEnd = Math.max(1, Math.floor(L * folds[fold]![1]));
        q.origins.forEach((t, i) => {
          if (t < calEnd) return;
          const key = `${fold}/${q.horizon}/${part.id}#${cand.id}`;
          const cell = into.get(key) ?? { sum: 0, steps: 0 };
          for (let h = 0; h < q.horizon && t + h < q.series.length; h++) {
            cell.sum += pinball(q.series[t + h]!, out[i]!, peakQuantile);
            cell.steps++;
          }
          into.set(key, cell);
        });
        return out;
      };
      return model;
    },
  };
}

interface Option extends OptionValidation {
  model: string;
  trained: boolean;
}

/** What a selection from the folds `use` picks: the learnt row and the deployed allocation. */
function select(byCandidate: readonly Option[][], use: readonly number[]): { learnt: Option; deployed: Option } {
  const picks = byCandidate.map((options) => {
    const scored = options.map((o) => ({ o, ...pooledSummary(use.map((i) => o.folds[i]!)), evidence: allocationEvidence(use.map((i) => o.folds[i]!)) }));
    return pickAllocation(scored);
  });
  const learnt = picks.filter((p) => p.o.trained).reduce((x, y) => (y.pinballP95 < x.pinballP95 ? y : x));
  return { learnt: learnt.o, deployed: pickAllocation(picks).o };
}

console.log('Held-out figures: steps above the allocation / VMs >10 % under / waste; ratio = pinball ÷ the best rule on the held-out fold');
const verdicts: Record<string, { noWorse: boolean; strictly: boolean; where: string }[]> = {};
for (const target of targets) {
  const t0 = performance.now();
  const parts = (await bitbrainsTrainingParts(target));
  const perVm: PerVm = new Map();
  const candidates = forecastCandidates('percent', horizons);
  const validated = await validateCandidates({ parts, horizons, unit: 'percent', candidates: candidates.map((c) => recording(c, parts, perVm)), folds });
  for (const [hi, horizon] of horizons.entries()) {
    const byCandidate: Option[][] = validated[hi]!.map((options, ci) => options.map((o) => ({ model: candidates[ci]!.id, trained: candidates[ci]!.trained, ...o })));
    const pinballOn = (ci: number, fold: number): number => byCandidate[ci]![0]!.folds[fold]!.pinballP95;
    const bestRuleOn = (fold: number): { model: string; pinball: number } =>
      candidates
        .map((c, ci) => ({ model: c.id, trained: c.trained, pinball: pinballOn(ci, fold) }))
        .filter((c) => !c.trained)
        .reduce((x, y) => (y.pinball < x.pinball ? y : x));
    console.log(`\n${target}, ${horizon} steps ahead (${parts.length} VMs)`);
    for (const { heldOut, sets } of checks) {
      const best = bestRuleOn(heldOut);
      console.log(`  held out ${foldName(heldOut)}: best rule ${best.model} ${best.pinball.toFixed(3)}; learnt candidates ${candidates
        .map((c, ci) => (c.trained ? `${c.id} ${(pinballOn(ci, heldOut) / best.pinball).toFixed(3)}×` : ''))
        .filter(Boolean)
        .join(', ')}`);
      const rows = sets.map((set) => {
        const { learnt, deployed } = select(byCandidate, set);
        const l = learnt.folds[heldOut]!;
        const d = deployed.folds[heldOut]!;
        const ratio = l.pinballP95 / best.pinball;
        console.log(
          `  ${setName(set).padEnd(11)} → ${foldName(heldOut)}: learnt ${learnt.model} (α ${pct(learnt.alpha)} %, ${pct(learnt.calibrationShare)} %) ${ratio.toFixed(3)}× ${ratio <= 0.9 ? '✓' : '✗'}, ${figures(l)}` +
            ` | deployed ${deployed.model} (α ${pct(deployed.alpha)} %, ${pct(deployed.calibrationShare)} %) ${figures(d)}`,
        );
        return { ratio, vms: d.subjectsOver10Percent, rate: d.underProvisioningRate, same: `${learnt.model}/${deployed.model}/${deployed.alpha}/${deployed.calibrationShare}` };
      });
      // Per pair (k, k + 1 folds): no worse on every figure, and (next day) strictly better on one.
      for (let k = 1; k < rows.length; k++) {
        const [a, b] = [rows[k - 1]!, rows[k]!];
        const noWorse = b.ratio <= a.ratio && b.vms <= a.vms && (a.rate > 0.05 || b.rate <= 0.05);
        const strictly = b.same !== a.same && (b.ratio < a.ratio || b.vms < a.vms || (a.rate > 0.05 && b.rate <= 0.05));
        const key = `${setName(sets[k]!)} vs ${setName(sets[k - 1]!)} on ${foldName(heldOut)}`;
        (verdicts[key] ??= []).push({ noWorse, strictly: horizon === 288 && noWorse && strictly, where: `${target}@${horizon}` });
        console.log(`    ${key}: ${noWorse ? (strictly ? 'better' : 'no worse, not better') : 'worse'}`);
      }
    }
    // The owner's bound: each VM's best candidate in hindsight on the held-out fold.
    for (const fold of [2, 3]) {
      // The recorded per-VM pinball must add up to validateCandidates' own figure, or the bound reads something else.
      const rule = bestRuleOn(fold);
      const recorded = parts.flatMap((p) => perVm.get(`${fold}/${horizon}/${p.id}#${rule.model}`) ?? []);
      const again = recorded.reduce((x, c) => x + c.sum, 0) / (recorded.reduce((x, c) => x + c.steps, 0) || 1);
      if (Math.abs(again - rule.pinball) > 1e-9 * Math.max(1, rule.pinball)) throw new Error(`per-VM pinball ${again} does not add up to ${rule.pinball} (${rule.model}, ${foldName(fold)})`);
      let sum = 0;
      let steps = 0;
      for (const p of parts) {
        const cells = candidates.flatMap((c) => perVm.get(`${fold}/${horizon}/${p.id}#${c.id}`) ?? []);
        if (cells.length === 0) continue;
        const bestCell = cells.reduce((x, y) => (y.sum < x.sum ? y : x));
        sum += bestCell.sum;
        steps += bestCell.steps;
      }
      const ratio = sum / (steps || 1) / bestRuleOn(fold).pinball;
      console.log(`  bound on ${foldName(fold)}: each VM's best candidate in hindsight ${(sum / (steps || 1)).toFixed(3)} = ${ratio.toFixed(3)}× the best rule${ratio > 0.9 ? ' — above 0.9×: no selection among these candidates can reach the line' : ''}`);
    }
  }
  console.log(`  (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
}
console.log('\nVerdict per pair (every resource and horizon must be true; next day strictly better):');
for (const [key, v] of Object.entries(verdicts)) {
  const better = v.every((x) => x.noWorse) && v.some((x) => x.strictly);
  console.log(`  ${key}: ${better ? 'more folds pick better' : 'more folds do not pick better'} (${v.map((x) => `${x.where} ${x.strictly ? 'better' : x.noWorse ? 'no worse' : 'worse'}`).join(', ')})`);
}
