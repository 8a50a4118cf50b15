import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { datasetHistory } from '../dataset-history.js';
import { evaluateForecast } from './evaluate-forecast.js';
import { datasetPath } from '../../../test/support/datasets.js';
import { syntheticSubjects } from '../../../test/support/forecast-fixture.js';

const folder = datasetPath('bitbrains-rnd-2013-7');
const skip = existsSync(folder) ? false : `needs ${folder} (the shared datasets)`;

test('Bitbrains, 8 VMs: the pooled forecaster against every rule (VPA and Autopilot included), by time and by subject', { skip }, async () => {
  const history = datasetHistory({ path: folder, format: 'bitbrains' });
  // VMs 40–47: some of the batch machines that decide the day-ahead figures, beside ordinary ones.
  const ids = ['3', '10', '25', '40', '41', '42', '60', '90'];
  const subjects = [];
  for (const id of ids) subjects.push({ id, category: 'bitbrains', series: (await history.resourceSeries(id))!.cpuPercent });
  const evaluations = await evaluateForecast({ subjects, target: 'cpuPercent', unit: 'percent', horizons: [12], testFraction: 0.2, originStride: 12 });
  assert.deepEqual(evaluations.map((e) => e.split), ['time', 'subject']);
  for (const e of evaluations) {
    const models = e.rows.map((r) => r.model);
    for (const m of ['vpa-samples', 'vpa-daily-peaks', 'autopilot-p95', 'autopilot-max', 'moving-p95-288', 'pooled-quantile', 'pooled-median', 'pooled-median-5']) assert.ok(models.includes(m), m);
    assert.ok(['pooled-quantile', 'pooled-median', 'pooled-median-5'].includes(e.pooled.model), `the learnt row is a learnt model: ${e.pooled.model}`);
    // What would be deployed is scored too, on every VM, with the allocation selection named.
    assert.equal(e.deployed.summary.subjects, 8);
    assert.deepEqual(e.deployed.models, [...new Set(e.selections.map((s) => s.allocationModel))]);
    // With 8 VMs validated (by subject: 4 fitted + the 4 held out) no share of VMs can be shown ≤ 5 %: the rule says the allocation is only the nearest.
    for (const s of e.selections) assert.equal(s.allocation.evidence.holds, false, `${e.split}: ${JSON.stringify(s.allocation)}`);
    for (const s of e.selections) assert.ok(s.allocation.evidence.worstFoldSubjectBound > 0.05);
    const last = e.rows.find((r) => r.model === 'last-value')!;
    assert.ok(e.pooled.pinballP95 < last.pinballP95, `${e.split}: pooled ${e.pooled.pinballP95} vs last value ${last.pinballP95}`);
    assert.equal(e.pooled.subjects, 8, 'every VM scored once');
    assert.ok(e.pooled.underProvisioningRate > 0 && e.pooled.underProvisioningRate < 0.2);
    assert.ok(e.selections.every((s) => models.includes(s.allocationModel) && models.includes(s.forecastModel)));
    assert.ok(Math.abs(e.pinballRatio - e.pooled.pinballP95 / e.bestBaselinePinball.pinballP95) < 1e-12);
    // The best rule on pinball is the best of the rows, and it is a rule.
    assert.equal(Math.min(...e.rows.filter((r) => !r.model.startsWith('pooled-')).map((r) => r.pinballP95)), e.bestBaselinePinball.pinballP95);
  }
});

test('held out by subject means by machine: every series of one machine (PlanetLab VM-days) lands in the same group', async () => {
  // vmA on three days, vmB on one, vmC on two: machines alternate (vmA, vmC | vmB), whatever the days.
  const ids = ['d1/vmA', 'd1/vmB', 'd1/vmC', 'd2/vmA', 'd2/vmC', 'd3/vmA'];
  const subjects = syntheticSubjects(ids.length, 1, 3).map((s, i) => ({ ...s, id: ids[i]! }));
  const scored: string[][] = [];
  const evaluations = await evaluateForecast({
    subjects,
    target: 'cpuPercent',
    unit: 'percent',
    horizons: [12],
    testFraction: 0.2,
    originStride: 12,
    splits: ['subject'],
    machineOf: (id) => id.slice(id.indexOf('/') + 1),
    onSelection: (_split, _group, selections) => scored.push(selections.map((s) => String(s.validated))),
  });
  const [e] = evaluations;
  assert.deepEqual(e!.selections.map((s) => [s.trainedOn, s.scoredOn]), [[1, 5], [5, 1]], 'vmA and vmC (5 VM-days) against vmB (1)');
  assert.deepEqual(scored, [['true'], ['true']], 'a one-day series validates the next hour');
});
