import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { prescient } from '../../../test/support/cli.js';
import { budgetKnobGrid } from './evaluate-budget.js';
import { readRequestLog } from './request-streams.js';
import { renderTimingReport, timingReport } from './timing-report.js';

let dir: string;
let file: string;

// Three users over 30 days: a cron job every 97 minutes, a person back every morning at about 9
// (and after lunch), and one who comes back after 1–3 days at random hours.
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'prescient-timing-report-'));
  const lines = ['time_s,user,logical_job_name'];
  for (let t = 0; t < 30 * 86_400; t += 97 * 60) lines.push(`${t},cron,etl`);
  for (let d = 0; d < 30; d++) for (const h of [9, 14]) lines.push(`${d * 86_400 + h * 3600 + ((d * 13) % 40) * 60},person,edit`);
  let t = 0;
  for (let i = 0; t < 30 * 86_400; i++) lines.push(`${(t += 86_400 + ((i * 7919) % 172_800))},rare,batch`);
  file = join(dir, 'submits.csv');
  await writeFile(file, lines.join('\n') + '\n');
});
after(async () => rm(dir, { recursive: true, force: true }));

test('the timing report: knobs chosen on validation, every policy scored on the test part against the hybrid, the acceptance line honest', async () => {
  const { report } = timingReport(await readRequestLog(file, 'google-submits'));
  assert.equal(report.users, 3);
  assert.ok(report.validateFrom < report.splitAt);
  const hybrid = report.rows.find((r) => r.policy === 'hybrid-histogram')!;
  assert.equal(hybrid.ratioToHybrid, 1);
  const best = report.rows.find((r) => r.policy === report.best)!;
  assert.ok(report.chosen.some((c) => c.id === report.best), 'the best is one of the learnt policies');
  assert.equal(report.acceptance.holds, best.coldStartRate <= 0.5 * hybrid.coldStartRate && best.unusedMinutesPerSession <= hybrid.unusedMinutesPerSession);
  // The cron user alone makes the periodic-jobs windows pay: the best policy beats the hybrid here.
  assert.ok(best.coldStartRate < hybrid.coldStartRate, JSON.stringify(report.rows));
  const text = renderTimingReport('synthetic', report);
  assert.match(text, new RegExp(`${report.best.replace(/[()+.]/g, '\\$&')} \\*`));
  assert.match(text, report.acceptance.holds ? /^✓ /m : /^✗ /m);
  // The budget controller: knobs from its grid, scored on the same test sessions, its own honest line.
  const b = report.budget;
  assert.ok(budgetKnobGrid.gain.some((g) => g === b.knobs.gain) && budgetKnobGrid.startThreshold.some((t) => t === b.knobs.startThreshold), JSON.stringify(b.knobs));
  assert.equal(b.row.sessions, hybrid.sessions);
  assert.equal(b.hybridValidation.unusedMinutesPerSession, report.hybridValidation.unusedMinutesPerSession);
  assert.equal(b.acceptance.holds, b.row.coldStartRate <= 0.5 * hybrid.coldStartRate && b.row.unusedMinutesPerSession <= hybrid.unusedMinutesPerSession);
  assert.match(text, /^budget controller .*gain /m);
  assert.match(text, new RegExp(`^${b.acceptance.holds ? '✓' : '✗'} .*the budget-controlled policy is ${b.acceptance.coldRatio.toFixed(3)}×`, 'm'));
});

test('prescient eval --requests prints the same report; a missing file is an error naming the flag', async () => {
  const r = await prescient(dir, ['eval', '--requests', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.json.users, 3);
  assert.equal(typeof r.json.acceptance.holds, 'boolean');
  assert.equal(typeof r.json.budget.acceptance.holds, 'boolean');
  const missing = await prescient(dir, ['eval', '--requests', join(dir, 'absent.csv')]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /--requests/);
});
