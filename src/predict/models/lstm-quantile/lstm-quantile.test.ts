import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AbortedError } from '../../../core/errors.js';
import { backtestResources, splitSeries } from '../../evaluate-resources.js';
import { createResourceBaseline } from '../baselines/resource-baselines.js';
import { createLstmQuantile } from './lstm-quantile.js';

/** Daily waves whose amplitude differs per series: the peak of the next hour is learnable. */
function synthetic(count: number, days: number): Float64Array[] {
  return Array.from({ length: count }, (_, k) =>
    Float64Array.from({ length: 288 * days }, (_, i) => {
      const phase = (2 * Math.PI * i) / 288;
      const noise = (((i + 1) * (k + 3) * 2654435761) % 1000) / 1000;
      return Math.max(0, Math.min(100, 30 + (10 + 4 * k) * Math.sin(phase) + 12 * noise));
    }),
  );
}

test('the LSTM quantile forecaster learns, beats the naive baseline, and round-trips through save/load', async () => {
  const data = synthetic(4, 6);
  const model = createLstmQuantile({ horizons: [12], maxSamples: 1500, epochs: 4, units: 8, batchSize: 256, learningRate: 0.01 });
  const progress: string[] = [];
  const report = await model.fit(data.map((s) => splitSeries(s, 0.2).train), { onProgress: (t) => progress.push(t), seed: 3 });
  assert.equal(report.modelId, 'lstm-quantile');
  assert.ok(report.details.epochs as number >= 1 && progress.length >= 1);
  const results = backtestResources(data, [model, createResourceBaseline('last-value')], { target: 'cpuPercent', horizon: 12, testFraction: 0.2, originStride: 3, targetUnderProvisioning: 0.05 });
  const [lstm, naive] = results;
  assert.ok(lstm!.pinballP95 < naive!.pinballP95, `lstm ${lstm!.pinballP95} vs last-value ${naive!.pinballP95}`);

  const copy = createLstmQuantile();
  await copy.load(JSON.parse(JSON.stringify(await model.save())));
  const q = { series: data[0]!, origins: [400, 800, 1000], horizon: 12 };
  assert.deepEqual(Array.from(copy.predict(q)), Array.from(model.predict(q)));
  // The allocation output is a second, separately trained output: it survives save/load too.
  const basis = model.allocationBasis!(q);
  assert.deepEqual(Array.from(copy.allocationBasis!(q)), Array.from(basis));
  assert.ok(basis.every((v) => v >= 0 && v <= 100));
  assert.notDeepEqual(Array.from(basis), Array.from(model.predict(q)));
});

test('LSTM training honours its time budget and its abort signal', async () => {
  const data = synthetic(2, 4);
  const budgeted = createLstmQuantile({ horizons: [12], maxSamples: 4000, epochs: 50, units: 4, batchSize: 64 });
  const report = await budgeted.fit(data, { timeBudgetMs: 1500 });
  assert.equal(report.details.stoppedBy, 'time budget');
  assert.ok(report.durationMs < 15_000);
  const controller = new AbortController();
  const aborted = createLstmQuantile({ horizons: [12], maxSamples: 2000, epochs: 50, units: 4, batchSize: 64 });
  setTimeout(() => controller.abort(), 300);
  await assert.rejects(aborted.fit(data, { signal: controller.signal }), AbortedError);
});

test('a network that never beat its starting rule says so, and is that rule', async () => {
  const data = synthetic(3, 5);
  const model = createLstmQuantile({ horizons: [12], maxSamples: 800, epochs: 0, units: 4, batchSize: 128 });
  const report = await model.fit(data.map((s) => splitSeries(s, 0.2).train), { seed: 3 });
  assert.equal(report.details.keptStartingRule, true);
  assert.equal(report.details.startingRule, '12:moving-p95-12');
  assert.equal(model.fellBackTo!(12), 'moving-p95-12');
  const [row, rule] = backtestResources(data, [model, createResourceBaseline('moving-p95-12')], { target: 'cpuPercent', horizon: 12, testFraction: 0.2, originStride: 6, targetUnderProvisioning: 0.05 });
  assert.equal(row!.fellBackTo, 'moving-p95-12');
  assert.ok(Math.abs(row!.pinballP95 - rule!.pinballP95) < 0.05, `${row!.pinballP95} vs ${rule!.pinballP95}`);
  assert.equal(rule!.fellBackTo, undefined);
});
