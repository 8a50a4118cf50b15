import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createResourceBaseline } from '../models/baselines/resource-baselines.js';
import { allocationEvidence, allocationRule, pickAllocation, shareUpperBound } from './allocation-rule.js';
import { foldBounds, noEvidenceCalibration, noEvidenceFallback, pooledSummary, selectForecasts, validateCandidates, trainingPart, type ForecastCandidate } from './forecast-selection.js';
import { trainingReport, type ResourceModel, type ResourceQuery } from '../models/model.js';
import type { AllocationSummary } from './subject-allocation.js';
import { seededRandom } from '../../core/seeded-random.js';
import { day, forecastCandidates as candidates, runForecast as run, syntheticSubjects } from '../../../test/support/forecast-fixture.js';

test('a training part is a copy that ends where the test part starts: nothing after it is reachable', () => {
  const series = Float64Array.from({ length: 100 }, (_, i) => i);
  const part = trainingPart('a', 'c', series, 80);
  assert.equal(part.values.length, 80);
  assert.equal(part.values.buffer.byteLength, 80 * 8, 'not a view into the whole series');
  series[10] = -1;
  assert.equal(part.values[10], 10, 'changing the series after the split does not reach the part');
  assert.ok(Object.isFrozen(part));
});

test('selection never sees the test part: rewriting every test part changes the scores, not one choice', async () => {
  const subjects = syntheticSubjects(6, 9, 3);
  const a = await run(subjects);
  // The same subjects with their test parts (last 20 %) replaced by saturation.
  const b = await run(
    subjects.map((s) => {
      const series = Float64Array.from(s.series);
      series.fill(100, Math.floor(series.length * 0.8));
      return { ...s, series };
    }),
  );
  assert.equal(a.selections.length, 3, 'one selection by time, one per held-out group by subject');
  assert.deepEqual(b.selections, a.selections, 'selection must depend on the training parts only');
  // The test parts were scored: the saturated ones are under-provisioned far more often.
  const pooled = (r: typeof a, split: string, h: number) => r.evaluations.find((e) => e.split === split && e.horizon === h)!.pooled;
  for (const split of ['time', 'subject']) {
    assert.ok(pooled(b, split, 12).underProvisioningRate > pooled(a, split, 12).underProvisioningRate + 0.3, `${split}: the test part is what is scored`);
  }
});

test('the pooled forecaster beats last value on VMs it never trained on, and the report names what drives allocation', async () => {
  const { evaluations } = await run(syntheticSubjects(6, 9, 5));
  assert.equal(evaluations.length, 4, 'two horizons × (by time, by subject)');
  for (const e of evaluations) {
    const last = e.rows.find((r) => r.model === 'last-value')!;
    assert.ok(e.pooled.pinballP95 < last.pinballP95, `${e.split}@${e.horizon}: ${e.pooled.pinballP95} vs ${last.pinballP95}`);
    assert.equal(e.pooled.subjects, 6);
    for (const s of e.selections) assert.ok(candidates.some((c) => c.id === s.allocationModel));
    assert.equal(e.acceptance!.pinball, e.pinballRatio <= 0.9);
    assert.equal(e.acceptance!.steps, e.pooled.underProvisioningRate <= 0.05);
  }
  const bySubject = evaluations.filter((e) => e.split === 'subject');
  // By subject the held-out group's training parts are validated on too (never fitted on): 3 fitted + 3 held out.
  for (const e of bySubject) assert.deepEqual(e.selections.map((s) => [s.trainedOn, s.validatedOn, s.scoredOn]), [[3, 6, 3], [3, 6, 3]]);
  for (const e of bySubject) for (const s of e.selections) assert.deepEqual([s.allocation.halves?.fitted.subjects, s.allocation.halves?.unfitted.subjects], [6, 6], 'three VMs per half on each of two folds');
  for (const e of evaluations.filter((x) => x.split === 'time')) assert.deepEqual(e.selections.map((s) => [s.trainedOn, s.validatedOn, s.allocation.halves]), [[6, 6, undefined]]);
});

test('a horizon no training part can validate is said, and the fallback rule is named for both choices', async () => {
  const parts = syntheticSubjects(3, 3, 7).map((s) => trainingPart(s.id, s.category, s.series, s.series.length));
  const [hour, dayAhead] = await selectForecasts({ parts, horizons: [12, 288], unit: 'percent', candidates });
  assert.equal(hour!.validated, true);
  assert.equal(dayAhead!.validated, false, 'three days hold no day-long validation slice after a fitted part');
  assert.equal(dayAhead!.forecastModel, noEvidenceFallback);
  assert.equal(dayAhead!.allocationModel, noEvidenceFallback);
  // Its margin is calibrated by the named cautious rule, not by whichever option came first.
  for (const c of Object.values(dayAhead!.calibration)) assert.deepEqual(c, noEvidenceCalibration);
});

test('eight days (the Alibaba trace): the next day has no validation origin, eval says so and judges nothing there', async () => {
  // A training part of 8 days is 1,843 steps; each fold validates on 15 % of it: 276 and 277 steps, shorter than 288.
  const L = Math.floor(8 * day * 0.8);
  for (const [, b, c] of foldBounds) assert.ok(Math.floor(L * c) - Math.floor(L * b) < 288);
  const { evaluations } = await run(syntheticSubjects(4, 8, 11));
  for (const e of evaluations) {
    if (e.horizon === 12) {
      assert.equal(e.validated, true);
      assert.ok(e.acceptance && e.deployed.acceptance, 'the next hour is judged');
      continue;
    }
    assert.equal(e.validated, false, `${e.split}: the next day cannot be validated on 8 days`);
    assert.equal(e.acceptance, null, 'no acceptance line is judged on nothing');
    assert.equal(e.deployed.acceptance, null);
    assert.ok(e.selections.every((s) => !s.validated && s.forecastModel === noEvidenceFallback && s.allocationModel === noEvidenceFallback));
    assert.equal(e.pooled.model, noEvidenceFallback, 'the row is named by the rule it is, not by a learnt model');
    // The JSON says it too (acceptance null, validated false).
    const json = JSON.parse(JSON.stringify(e)) as { validated: boolean; acceptance: unknown };
    assert.deepEqual([json.validated, json.acceptance], [false, null]);
  }
});

const fold = (underProvisioningRate: number, subjectsOver10Percent: number, subjects = 100, waste = 1): AllocationSummary => ({ underProvisioningRate, waste, subjectsOver10Percent, subjects, pinballP95: 1, steps: 10_000 });

test('the subject bound: k of n shows ≤ 5 % only when the one-sided 95 % upper bound does (1 of 100 does, 2 of 100 and 0 of 50 do not)', () => {
  assert.ok(Math.abs(shareUpperBound(0, 100) - (1 - 0.05 ** (1 / 100))) < 1e-9, 'k = 0 has the closed form 1 − (1 − c)^(1/n)');
  assert.ok(shareUpperBound(1, 100) <= allocationRule.maxSubjectShareOver10);
  assert.ok(shareUpperBound(2, 100) > allocationRule.maxSubjectShareOver10);
  assert.ok(shareUpperBound(0, 50) > allocationRule.maxSubjectShareOver10);
  assert.ok(shareUpperBound(5, 100) > 0.1);
  assert.equal(shareUpperBound(3, 3), 1);
});

test('the rule refuses what passes pooled but fails one fold, or passes the count but not its bound, and deploys the cheapest that holds', () => {
  // Pooled: 4.0 % of steps and 2/200 VMs — inside both lines; its second fold leaves 6 % of steps above.
  const oneBadFold = { name: 'one bad fold', waste: 1, evidence: allocationEvidence([fold(0.02, 1), fold(0.06, 1)]) };
  assert.ok(pooledSummary([fold(0.02, 1), fold(0.06, 1)]).underProvisioningRate <= 0.05);
  // 2/100 on each fold: 2 % observed, but its upper bound is 6.2 %.
  const unshown = { name: 'not shown', waste: 2, evidence: allocationEvidence([fold(0.03, 2), fold(0.03, 2)]) };
  const holds = { name: 'holds', waste: 3, evidence: allocationEvidence([fold(0.04, 1), fold(0.03, 0)]) };
  const dear = { name: 'dear', waste: 4, evidence: allocationEvidence([fold(0.01, 0), fold(0.01, 0)]) };
  assert.deepEqual([oneBadFold, unshown, holds, dear].map((o) => o.evidence.holds), [false, false, true, true]);
  assert.equal(pickAllocation([oneBadFold, unshown, dear, holds]).name, 'holds');
  // Nothing holds (50 subjects cannot show 5 %): every fold's rate within its line first, then the lowest bound, then waste.
  const small = [
    { name: 'rate over', waste: 1, evidence: allocationEvidence([fold(0.06, 0, 50), fold(0.02, 0, 50)]) },
    { name: 'one VM over', waste: 2, evidence: allocationEvidence([fold(0.02, 1, 50), fold(0.02, 0, 50)]) },
    { name: 'none over', waste: 3, evidence: allocationEvidence([fold(0.04, 0, 50), fold(0.03, 0, 50)]) },
    { name: 'none over, dearer', waste: 5, evidence: allocationEvidence([fold(0.01, 0, 50), fold(0.01, 0, 50)]) },
  ];
  assert.ok(small.every((o) => !o.evidence.holds));
  assert.equal(pickAllocation(small).name, 'none over');
});

/**
 * A constant forecast that drops by `drop` from `at` (a share of each, equally long, training
 * part) on, plus a deterministic jitter of up to `jitter` per origin (which its margin must cover).
 */
function droppingModel(id: string, level: number, drop: number, at: number, length: number, jitter = 0): ForecastCandidate {
  const create = (): ResourceModel => ({
    id,
    version: '1',
    kind: 'resource',
    fit: async (data) => trainingReport({ id, version: '1' }, performance.now(), data.length, { trained: false }),
    predict: ({ origins }: ResourceQuery) => Float64Array.from(origins, (t) => (t >= at * length ? level - drop : level) + (jitter * ((t * 7919) % 13)) / 13),
    save: async () => ({ id, version: '1', state: {} }),
    load: async () => undefined,
  });
  return { id, trained: false, create };
}

test('selection refuses an allocation that holds on the folds pooled but not on one fold', async () => {
  // 60 VMs (0 of 60 is the fewest whose bound is under 5 %), uniform use in [40, 60], twelve days each.
  const length = 12 * day;
  const rnd = seededRandom(11);
  const parts = Array.from({ length: 60 }, (_, v) => trainingPart(`vm${v}`, 'synthetic', Float64Array.from({ length }, () => 40 + 20 * rnd()), length));
  const lastValidation = foldBounds[foldBounds.length - 1]![1];
  // 'drops' falls at the last validation slice, after its margins were calibrated: within the
  // lines on the folds pooled, and cheap; 'steady' is jittery (dearer) but holds on every fold.
  const cands = [droppingModel('drops', 60, 1, lastValidation, length), droppingModel('steady', 60, 0, 0, length, 6)];
  const [sel] = await selectForecasts({ parts, horizons: [12], unit: 'percent', candidates: cands });
  const steady = sel!.validation.find((v) => v.model === 'steady')!;
  assert.equal(steady.feasible, true);
  // What the pooled figures alone would have deployed: an option of 'drops' within both lines that wastes less.
  const [options] = await validateCandidates({ parts, horizons: [12], unit: 'percent', candidates: cands });
  const tempting = options![0]!
    .map((o) => ({ ...o, pooled: pooledSummary(o.folds) }))
    .filter((o) => o.pooled.underProvisioningRate <= allocationRule.maxUnderRate && o.pooled.subjectsOver10Percent <= 0.05 * o.pooled.subjects && o.pooled.waste < steady.waste);
  assert.ok(tempting.length > 0, 'some option of the dropping model passes pooled at less waste');
  for (const o of tempting) assert.ok(o.folds.at(-1)!.underProvisioningRate > allocationRule.maxUnderRate, `α ${o.alpha}: its last fold is over the line`);
  assert.ok(tempting.some((o) => o.folds.every((f) => f.subjectsOver10Percent === 0)), 'one of them is refused by its last fold\'s rate alone (no VM above 10 % under)');
  assert.equal(sel!.validation.find((v) => v.model === 'drops')!.feasible, false);
  assert.equal(sel!.allocationModel, 'steady');
});

test('validation-only subjects are scored on every fold with their own margins, never fitted on, and only their training parts are read', async () => {
  const subjects = syntheticSubjects(6, 9, 13);
  const parts = subjects.slice(0, 3).map((s) => trainingPart(s.id, s.category, s.series, Math.floor(s.series.length * 0.8)));
  const held = subjects.slice(3).map((s) => trainingPart(s.id, s.category, s.series, Math.floor(s.series.length * 0.8)));
  // A trained candidate that records what it is fitted on.
  const fitted: Float64Array[][] = [];
  const recording: ForecastCandidate = {
    id: 'recording',
    trained: true,
    create: () => {
      const inner = createResourceBaseline('moving-p95-288');
      return { ...inner, id: 'recording', fit: async (data, opts) => (fitted.push([...data]), inner.fit(data, opts)) };
    },
  };
  const cands = [candidates[1]!, recording];
  const run = (unfitted: readonly ReturnType<typeof trainingPart>[]) => validateCandidates({ parts, unfitted, horizons: [12], unit: 'percent', candidates: cands });
  const [withHeld] = await run(held);
  assert.equal(fitted.length, foldBounds.length, 'fitted once per fold');
  for (const data of fitted) {
    assert.equal(data.length, 3, 'on the three fitted subjects only');
    for (const [i, d] of data.entries()) assert.ok(d.length < parts[i]!.values.length && d.every((v, t) => v === parts[i]!.values[t]), 'a prefix of a fitted subject');
  }
  for (const o of withHeld![1]!) {
    assert.ok(o.halves, 'both halves reported');
    o.folds.forEach((f, k) => {
      assert.deepEqual([f.subjects, o.halves!.fitted[k]!.subjects, o.halves!.unfitted[k]!.subjects], [6, 3, 3]);
      assert.equal(f.steps, o.halves!.fitted[k]!.steps + o.halves!.unfitted[k]!.steps);
    });
  }
  // Without them: the fitted half alone, the same figures.
  const [alone] = await run([]);
  assert.equal(alone![1]![0]!.halves, undefined);
  assert.deepEqual(alone![1]!.map((o) => o.folds), withHeld![1]!.map((o) => o.halves!.fitted));
  // A held-out VM's last validation slice saturated (its training part rewritten): it is scored — its half's figures move, the fitted half's do not.
  const saturated = held.map((p, i) => (i === 0 ? trainingPart(p.id, p.category, Float64Array.from(p.values).fill(100, Math.floor(p.values.length * 0.85)), p.values.length) : p));
  const [moved] = await run(saturated);
  const last = foldBounds.length - 1;
  assert.deepEqual(moved![1]!.map((o) => o.halves!.fitted), withHeld![1]!.map((o) => o.halves!.fitted));
  // At the cap, nothing of that VM's allocation is left unused: the held-out half's waste falls.
  assert.ok(moved![1]![0]!.halves!.unfitted[last]!.waste < withHeld![1]![0]!.halves!.unfitted[last]!.waste - 1, `${moved![1]![0]!.halves!.unfitted[last]!.waste} vs ${withHeld![1]![0]!.halves!.unfitted[last]!.waste}`);
});
