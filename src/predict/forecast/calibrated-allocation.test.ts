import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '../../core/seeded-random.js';
import { trainingReport, type ResourceModel, type ResourceQuery } from '../models/model.js';
import { calibratedAllocation, pooledExcessMargin } from './calibrated-allocation.js';
import { selectForecasts, trainingPart, validateCandidates, type ForecastCandidate } from './forecast-selection.js';

const day = 288;

/** A forecast of `level` at every origin: what each VM's margin must cover is its own noise. */
function flatModel(level: number): ResourceModel {
  return {
    id: 'flat',
    version: '1',
    kind: 'resource',
    fit: async (data) => trainingReport({ id: 'flat', version: '1' }, performance.now(), data.length, { trained: false }),
    predict: ({ origins }: ResourceQuery) => new Float64Array(origins.length).fill(level),
    save: async () => ({ id: 'flat', version: '1', state: {} }),
    load: async () => undefined,
  };
}

/** 50 ± `noise(t)` uniformly, 5-minute steps. */
function series(length: number, noise: (t: number) => number, rnd: () => number): Float64Array {
  return Float64Array.from({ length }, (_, t) => 50 + noise(t) * (2 * rnd() - 1));
}

/** Share of the steps after `from` above a fixed allocation. */
function underShare(s: Float64Array, from: number, allocation: number): number {
  let n = 0;
  for (let t = from; t < s.length; t++) if (s[t]! > allocation) n++;
  return n / (s.length - from);
}

test('a VM whose own slice was quiet: its own margin leaves it >10 % under, shrunk towards the pooled margin it stays under 10 %; λ absent is its own margin', () => {
  const rnd = seededRandom(7);
  const model = flatModel(50);
  // 59 VMs at ±10; one VM quiet (±0.5) for the six days it has been seen, then ±5.
  const population = Array.from({ length: 59 }, () => series(12 * day, () => 10, rnd));
  const seen = 6 * day;
  const quiet = series(seen + day, (t) => (t < seen ? 0.5 : 5), rnd);
  const history = quiet.subarray(0, seen);
  const horizon = 12;
  const rule = { alpha: 0.04, calibrationShare: 0.4 };
  const own = calibratedAllocation(model, history, horizon, rule);
  assert.ok(own.margin < 1, `its own margin is its quiet slice's (${own.margin})`);
  assert.ok(underShare(quiet, seen, own.allocation) > 0.1, 'its own margin alone leaves it above 10 % under the next day');
  const pooledMargin = pooledExcessMargin(model, [...population, history], horizon, rule)!;
  assert.ok(pooledMargin > 8 && pooledMargin < 10, `the pooled excess quantile at 4 % of ±10 (${pooledMargin})`);
  const shrunk = calibratedAllocation(model, history, horizon, { ...rule, shrinkage: 0.5, pooledMargin });
  assert.ok(Math.abs(shrunk.margin - (0.5 * own.margin + 0.5 * pooledMargin)) < 1e-9, '(1 − λ)·own + λ·pooled');
  assert.ok(underShare(quiet, seen, shrunk.allocation) <= 0.1, `shrunk, it stays under 10 % (${underShare(quiet, seen, shrunk.allocation)})`);
  // A model set saved before λ: no shrinkage, no pooled margin — the subject's own margin, as before.
  assert.equal(calibratedAllocation(model, history, horizon, { ...rule, pooledMargin }).margin, own.margin);
});

test('a client too short to calibrate its own margin gets the pooled margin whatever λ; a long one keeps its own; with no pooled margin, none', () => {
  const rnd = seededRandom(11);
  const model = flatModel(50);
  const rule = { alpha: 0.04, calibrationShare: 0.15, shrinkage: 0 };
  const population = Array.from({ length: 20 }, () => series(30 * day, () => 10, rnd));
  const pooledMargin = pooledExcessMargin(model, population, day, rule)!;
  assert.ok(pooledMargin > 8 && pooledMargin < 10, `the pooled excess quantile at 4 % of ±10 (${pooledMargin})`);
  // Two days: their last 15 % (7 h) cannot hold a day-ahead origin; six hours (54 min) cannot hold a next-hour one.
  const short = series(2 * day, () => 10, rnd);
  for (const [s, horizon] of [[short, day], [short.subarray(0, 72), 12]] as const) {
    const a = calibratedAllocation(model, s, horizon, { ...rule, pooledMargin });
    assert.deepEqual([a.margin, a.marginSource, a.allocation], [pooledMargin, 'pooled', 50 + pooledMargin], `${s.length} steps, horizon ${horizon}`);
    assert.deepEqual([calibratedAllocation(model, s, horizon, rule).margin, calibratedAllocation(model, s, horizon, rule).marginSource], [0, 'none'], 'no pooled margin kept: none, as before');
  }
  // A month of its own (±2): its own conformal margin, the pooled one neither replaces nor shifts it at λ = 0.
  const calm = series(30 * day, () => 2, rnd);
  const own = calibratedAllocation(model, calm, day, rule);
  const kept = calibratedAllocation(model, calm, day, { ...rule, pooledMargin });
  assert.equal(kept.marginSource, 'own');
  assert.equal(kept.margin, own.margin);
  assert.ok(kept.margin > 1.5 && kept.margin < 2, `its own ±2 (${kept.margin})`);
  // Every subject short: no pooled margin at all.
  assert.equal(pooledExcessMargin(model, [short, short], day, rule), undefined);
});

test('given λ ∈ {0, 0.5}, selection chooses λ on validation: with one VM quiet until its first validation slice, every λ = 0 option leaves it >10 % under and λ = 0.5 holds', async () => {
  const rnd = seededRandom(3);
  const length = 12 * day;
  // 60 VMs (0 of 60 is the fewest whose bound is under 5 %): 59 at ±10, one at ±0.5 until 0.7 L (where fold 1 validates) and ±5 after.
  const values = [...Array.from({ length: 59 }, () => series(length, () => 10, rnd)), series(length, (t) => (t < 0.7 * length ? 0.5 : 5), rnd)];
  const parts = values.map((v, i) => trainingPart(`vm${i}`, 'synthetic', v, length));
  const candidates: ForecastCandidate[] = [{ id: 'flat', trained: false, create: () => flatModel(50) }];
  const [options] = await validateCandidates({ parts, horizons: [12], unit: 'percent', candidates, shrinkages: [0, 0.5] });
  const own = options![0]!.filter((o) => o.shrinkage === 0);
  assert.ok(own.length > 0 && own.every((o) => o.folds[0]!.subjectsOver10Percent >= 1), 'every option without shrinkage leaves the quiet VM above 10 % under on fold 1');
  const [sel] = await selectForecasts({ parts, horizons: [12], unit: 'percent', candidates, shrinkages: [0, 0.5] });
  const chosen = sel!.validation[0]!;
  assert.equal(chosen.shrinkage, 0.5, JSON.stringify({ alpha: chosen.alpha, share: chosen.calibrationShare, folds: chosen.folds }));
  assert.equal(chosen.feasible, true);
  assert.ok(chosen.folds.every((f) => f.subjectsOver10Percent === 0 && f.underProvisioningRate <= 0.05));
  assert.deepEqual(sel!.calibration.flat, { alpha: chosen.alpha, share: chosen.calibrationShare, shrinkage: 0.5 });
});
