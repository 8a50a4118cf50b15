import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '../../core/seeded-random.js';
import { createResourceBaseline } from '../models/baselines/resource-baselines.js';
import { evaluateForecast, type ForecastSubject } from './evaluate-forecast.js';
import { noEvidenceFallback, selectForecasts, trainingPart, type ForecastCandidate, type ForecastSelection } from './forecast-selection.js';
import { createPooledForecaster, pooledForecasterId } from './pooled-forecaster.js';

const day = 288;

/** VMs with a daily load curve and bursts: level and burst height differ per VM. */
function syntheticSubjects(count: number, days: number, seed: number): ForecastSubject[] {
  const rnd = seededRandom(seed);
  return Array.from({ length: count }, (_, v) => {
    const level = 5 + 6 * v;
    const series = new Float64Array(days * day);
    for (let t = 0; t < series.length; t++) {
      const hour = (t % day) / 12;
      const daily = hour > 8 && hour < 18 ? level : level / 3;
      series[t] = Math.min(100, daily + rnd() * level * 0.3 + (rnd() < 0.02 ? 20 : 0));
    }
    return { id: `vm${v}`, category: 'synthetic', series };
  });
}

const candidates: ForecastCandidate[] = [
  { id: 'last-value', trained: false, create: () => createResourceBaseline('last-value') },
  { id: 'moving-p95-288', trained: false, create: () => createResourceBaseline('moving-p95-288') },
  { id: pooledForecasterId, trained: true, create: () => createPooledForecaster({ horizons: [12, 288] }) },
];

async function run(subjects: ForecastSubject[]) {
  const selections: { split: string; group: number; selections: readonly ForecastSelection[] }[] = [];
  const evaluations = await evaluateForecast({
    subjects,
    target: 'cpuPercent',
    unit: 'percent',
    horizons: [12, 288],
    testFraction: 0.2,
    originStride: 12,
    candidates,
    onSelection: (split, group, s) => selections.push({ split, group, selections: s }),
  });
  return { evaluations, selections };
}

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
    assert.equal(e.acceptance.pinball, e.pinballRatio <= 0.9);
    assert.equal(e.acceptance.steps, e.pooled.underProvisioningRate <= 0.05);
  }
  const bySubject = evaluations.filter((e) => e.split === 'subject');
  for (const e of bySubject) assert.deepEqual(e.selections.map((s) => [s.trainedOn, s.scoredOn]), [[3, 3], [3, 3]]);
});

test('a horizon no training part can validate is said, and the fallback rule is named for both choices', async () => {
  const parts = syntheticSubjects(3, 3, 7).map((s) => trainingPart(s.id, s.category, s.series, s.series.length));
  const [hour, dayAhead] = await selectForecasts({ parts, horizons: [12, 288], unit: 'percent', candidates });
  assert.equal(hour!.validated, true);
  assert.equal(dayAhead!.validated, false, 'three days hold no day-long validation slice after a fitted part');
  assert.equal(dayAhead!.forecastModel, noEvidenceFallback);
  assert.equal(dayAhead!.allocationModel, noEvidenceFallback);
});
