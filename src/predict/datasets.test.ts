import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { datasetHistory } from './dataset-history.js';
import { evaluate } from './evaluate.js';
import { datasetsDir } from '../../test/support/datasets.js';

/** The public traces live beside the project; tests that need them skip when they are absent. */
const datasets = datasetsDir;
const skip = (folder: string): string | false => (existsSync(join(datasets, folder)) ? false : `needs ${join(datasets, folder)} (the shared datasets)`);

test('Schonlau: the README baselines reproduce and the n-gram mixture beats first-order Markov', { skip: skip('schonlau') }, async () => {
  const history = datasetHistory({ path: join(datasets, 'schonlau'), format: 'commands' });
  const report = await evaluate({ history, format: 'commands', network: false });
  const row = (id: string) => report.sequences!.rows.find((r) => r.model === id)!;
  assert.equal(report.subjects, 25);
  assert.equal(row('markov-1').predictions, 25_000);
  assert.ok(row('ngram-mix').top1 > row('markov-1').top1 && row('ngram-mix').top5 > row('markov-1').top5);
  // The corrected README figures (ties to the command seen first), each within ±0.5 point.
  const check = (claim: string) => report.readme.find((c) => c.claim.startsWith(claim))!;
  assert.equal(report.readme.length, 5);
  for (const c of report.readme) assert.ok(c.reproduced, `${c.claim}: ${c.measured} vs ${c.published}`);
  // Repeat-last needs no model at all, so it is recounted here from the files: the share of
  // commands 4,001–5,000 equal to their predecessor.
  let repeats = 0;
  for (const s of await history.subjects()) {
    const c = (await history.launches(s.id)).map((e) => e.program);
    for (let i = 4000; i < 5000; i++) if (c[i] === c[i - 1]) repeats++;
  }
  assert.equal(check('Schonlau repeat-last').measured, Math.round((100 * repeats) / 25_000 * 100) / 100);
  assert.deepEqual(report.readme.map((c) => c.measured), [24.58, 21.04, 43.59, 61.4, 88.83]);
});

test('PlanetLab: one-step MAE of last value and moving average reproduce the README within 0.5 point', { skip: skip('planetlab') }, async () => {
  const report = await evaluate({ history: datasetHistory({ path: join(datasets, 'planetlab'), format: 'planetlab' }), format: 'planetlab', network: false, horizons: [1] });
  assert.equal(report.readme.length, 2);
  for (const c of report.readme) assert.ok(c.reproduced, `${c.claim}: ${c.measured} vs ${c.published}`);
  // Pinned to the definition the report names (each VM-day a series, its last 20 % scored).
  assert.deepEqual(report.readme.map((c) => c.measured), [5.51, 4.37]);
  assert.ok(report.readme.every((c) => /VM-day file a series/.test(c.definition ?? '')));
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
