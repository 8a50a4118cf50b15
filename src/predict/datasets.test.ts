import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { datasetHistory } from './dataset-history.js';
import { evaluate } from './evaluate.js';

/** The public traces live beside the project; tests that need them skip when they are absent. */
const datasets = resolve(process.cwd(), '..', 'shared', 'datasets');
const skip = (folder: string): string | false => (existsSync(join(datasets, folder)) ? false : `needs ${join(datasets, folder)} (the shared datasets)`);

test('Schonlau: the README baselines reproduce and the n-gram mixture beats first-order Markov', { skip: skip('schonlau') }, async () => {
  const report = await evaluate({ history: datasetHistory({ path: join(datasets, 'schonlau'), format: 'commands' }), format: 'commands', network: false });
  const row = (id: string) => report.sequences!.rows.find((r) => r.model === id)!;
  assert.equal(report.subjects, 25);
  assert.equal(row('markov-1').predictions, 25_000);
  assert.ok(Math.abs(100 * row('markov-1').top1 - 60.4) <= 1, `markov top-1 ${row('markov-1').top1}`);
  assert.ok(Math.abs(100 * row('markov-1').top5 - 88.4) <= 1, `markov top-5 ${row('markov-1').top5}`);
  assert.ok(row('ngram-mix').top1 > row('markov-1').top1 && row('ngram-mix').top5 > row('markov-1').top5);
});

test('PlanetLab: one-step MAE of last value and moving average reproduce the README within 1 point', { skip: skip('planetlab') }, async () => {
  const report = await evaluate({ history: datasetHistory({ path: join(datasets, 'planetlab'), format: 'planetlab' }), format: 'planetlab', network: false, horizons: [1] });
  assert.equal(report.readme.length, 2);
  for (const c of report.readme) assert.ok(c.withinOnePoint, `${c.claim}: ${c.measured} vs ${c.published}`);
});

test('Bitbrains: a VM file becomes a multi-resource series in percent of its capacity', { skip: skip('bitbrains-rnd-2013-7') }, async () => {
  const h = datasetHistory({ path: join(datasets, 'bitbrains-rnd-2013-7'), format: 'bitbrains' });
  const subjects = await h.subjects();
  assert.equal(subjects.length, 100);
  assert.deepEqual(subjects.slice(0, 3).map((s) => s.id), ['1', '2', '3']);
  const s = (await h.resourceSeries('1'))!;
  assert.ok(s.cpuPercent.length > 8000);
  assert.equal(s.memoryPercent!.length, s.cpuPercent.length);
  assert.ok(s.cpuPercent.every((v) => v >= 0 && v <= 100));
  assert.equal(s.capacity!.cpuCores, 2);
  assert.equal(s.startMs, 1372629804 * 1000);
  assert.equal(await h.resourceSeries('nope'), undefined);
});
