import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ValidationError } from '../../core/errors.js';
import { prescient } from '../../../test/support/cli.js';
import { datasetPath } from '../../../test/support/datasets.js';
import { detectRequestFormat, readRequestLog } from './request-streams.js';

let dir: string;
const header = 'gmt_create,predict_type,predict_status,exec_time_seconds,groupId,prompt_length,negative_prompt_length,num_images_per_prompt,num_inference_steps,checkpoint_model_version_id,num_lora';
const row = (time: string, status: string, group: string, model: string): string => `${time},TXT_2_IMG,${status},32.0,${group},63.0,,1.0,30.0,${model},0`;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'prescient-lora-'));
});
after(async () => rm(dir, { recursive: true, force: true }));

async function fixture(name: string, lines: readonly string[], eol = '\n'): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, lines.join(eol) + eol);
  return path;
}

test('lora: a group is the user, its model the program, gmt_create read as UTC seconds; failed and pending requests count; out of order is sorted', async () => {
  const path = await fixture(
    'trace.csv',
    [
      header,
      row('2024-11-15 16:57:50', 'SUCCEED', 'G0000', 'M0000'),
      row('2024-11-15 18:16:14', 'FAILED', 'G0001', 'M0001'),
      row('2024-11-15 16:00:00', 'PENDING', 'G0000', 'M0002'),
      '',
      row('2024-11-16 00:00:00', 'SUCCEED', 'G0000', ''),
    ],
    '\r\n',
  );
  const log = await readRequestLog(path, 'lora');
  assert.deepEqual([...log.times.keys()].sort(), ['G0000', 'G0001']);
  const at = (s: string): number => Date.UTC(2024, 10, Number(s.slice(0, 2)), Number(s.slice(3, 5)), Number(s.slice(6, 8)), Number(s.slice(9, 11))) / 1000;
  assert.deepEqual(log.times.get('G0000'), [at('15 16:00:00'), at('15 16:57:50'), at('16 00:00:00')]);
  assert.deepEqual(log.programs.get('G0000'), ['M0002', 'M0000', ''], 'a request naming no model is still its group’s, program unknown');
  assert.deepEqual(log.times.get('G0001'), [at('15 18:16:14')], 'a failed request counts: the group asked');
});

test('lora: columns are found by the header’s names, in any order, among others', async () => {
  const path = await fixture('reordered.csv', ['num_lora,checkpoint_model_version_id,extra,groupId,gmt_create', '0,M0007,x,G0042,2024-11-20 09:30:00']);
  const log = await readRequestLog(path, 'lora');
  assert.deepEqual(log.times.get('G0042'), [Date.UTC(2024, 10, 20, 9, 30) / 1000]);
  assert.deepEqual(log.programs.get('G0042'), ['M0007']);
});

test('lora: hostile lines are errors that name the line and the field', async () => {
  const cases: { lines: string[]; field: RegExp | string; message: RegExp }[] = [
    { lines: ['time,user,model', '1,2,3'], field: 'line 1', message: /missing gmt_create, groupId, checkpoint_model_version_id/ },
    { lines: ['gmt_create,groupId,groupId,checkpoint_model_version_id', '2024-11-15 16:57:50,G1,G1,M1'], field: 'line 1: groupId', message: /twice/ },
    { lines: [header, row('2024-11-15 16:57:50', 'SUCCEED', 'G0', 'M0'), row('2024-02-30 10:00:00', 'SUCCEED', 'G0', 'M0')], field: 'line 3: gmt_create', message: /not a real date/ },
    { lines: [header, row('1731689870', 'SUCCEED', 'G0', 'M0')], field: 'line 2: gmt_create', message: /YYYY-MM-DD HH:MM:SS/ },
    { lines: [header, row('2024-11-15T16:57:50Z', 'SUCCEED', 'G0', 'M0')], field: 'line 2: gmt_create', message: /YYYY-MM-DD HH:MM:SS/ },
    { lines: [header, row('2024-11-15 16:57:50', 'SUCCEED', '', 'M0')], field: 'line 2: groupId', message: /empty/ },
    { lines: [header, row('2024-11-15 16:57:50', 'SUCCEED', 'G 0', 'M0')], field: 'line 2: groupId', message: /printable/ },
    { lines: [header, row('2024-11-15 16:57:50', 'SUCCEED', 'G\u00000', 'M0')], field: 'line 2: groupId', message: /printable/ },
    { lines: [header, row('2024-11-15 16:57:50', 'SUCCEED', 'G'.repeat(129), 'M0')], field: 'line 2: groupId', message: /128/ },
    { lines: [header, row('2024-11-15 16:57:50', 'SUCCEED', 'G0', 'M\u00070')], field: 'line 2: checkpoint_model_version_id', message: /printable/ },
    { lines: [header, '2024-11-15 16:57:50,TXT_2_IMG,SUCCEED'], field: 'line 2', message: /expected 11 fields \(as the header\), found 3/ },
    { lines: [header, row('2024-11-15 16:57:50', 'SUCCEED', 'G0', 'M0') + ',extra'], field: 'line 2', message: /found 12/ },
    { lines: [header, row('2024-11-15 16:57:50', 'SUCCEED', '"G0,G1"', 'M0')], field: 'line 2', message: /quoted/ },
  ];
  for (const [i, c] of cases.entries()) {
    const path = await fixture(`hostile-${i}.csv`, c.lines);
    await assert.rejects(readRequestLog(path, 'lora'), (e: unknown) => {
      assert.ok(e instanceof ValidationError, `case ${i}: ${String(e)}`);
      assert.equal(e.field, c.field, `case ${i}: ${e.message}`);
      assert.match(e.message, c.message, `case ${i}`);
      return true;
    });
  }
  const empty = await fixture('header-only.csv', [header]);
  await assert.rejects(readRequestLog(empty, 'lora'), /no lora requests found/);
});

test('the request format is detected: lora from its header, swf from the name, else google-submits', async () => {
  assert.equal(await detectRequestFormat(await fixture('any-name.csv', [header, row('2024-11-15 16:57:50', 'SUCCEED', 'G0', 'M0')])), 'lora');
  assert.equal(await detectRequestFormat(await fixture('submits.csv', ['time_s,user,logical_job_name', '0,u,j'])), 'google-submits');
  assert.equal(await detectRequestFormat(await fixture('log.swf', ['; a comment'])), 'swf');
});

test('prescient eval --requests reads a lora file by its header; a hostile line is an error naming line and field, not a crash', async () => {
  // Two groups over 20 days: one back every morning at 9, one every 5 hours; both name their model.
  const lines = [header];
  for (let d = 0; d < 20; d++) lines.push(row(`2024-11-${String(d + 1).padStart(2, '0')} 09:0${d % 10}:00`, d % 7 ? 'SUCCEED' : 'FAILED', 'G0001', 'M0001'));
  for (let h = 0; h < 20 * 24; h += 5) lines.push(row(new Date(Date.UTC(2024, 10, 1, h)).toISOString().slice(0, 19).replace('T', ' '), 'SUCCEED', 'G0002', 'M0002'));
  const ok = await prescient(dir, ['eval', '--requests', await fixture('lora.csv', lines)]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.json.users, 2);
  assert.ok(ok.json.rows.some((r: { policy: string }) => r.policy === 'hybrid-histogram'));
  const bad = await prescient(dir, ['eval', '--requests', await fixture('bad.csv', [header, row('2024-11-15 16:57:50', 'SUCCEED', '', 'M0')]), '--request-format', 'lora']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /line 2: groupId/);
  assert.doesNotMatch(bad.stderr, /\n\s+at /, 'no stack trace');
});

const real = datasetPath('alibaba-genai-lora', 'lora_request_trace.csv');
test('alibaba-genai-lora: the shipped trace reads as 26,823 requests of 4,247 groups over 24 days, 86 models named (the README’s 87 counts the 25 requests that name none)', { skip: existsSync(real) ? false : `needs ${real} (the shared datasets)` }, async () => {
  assert.equal(await detectRequestFormat(real), 'lora');
  const log = await readRequestLog(real, 'lora');
  assert.equal(log.times.size, 4247);
  let requests = 0;
  let first = Infinity;
  let last = -Infinity;
  const models = new Set<string>();
  for (const [group, times] of log.times) {
    requests += times.length;
    first = Math.min(first, times[0]!);
    last = Math.max(last, times[times.length - 1]!);
    assert.ok(times.every((t, i) => i === 0 || t >= times[i - 1]!), `${group}: sorted`);
    for (const m of log.programs.get(group)!) if (m !== '') models.add(m);
  }
  assert.equal(requests, 26_823);
  assert.equal(models.size, 86);
  assert.equal([...log.programs.values()].flat().filter((m) => m === '').length, 25);
  const days = (last - first) / 86_400;
  assert.ok(days > 23 && days <= 24, `span ${days} days`);
  assert.ok(new Date(first * 1000).getUTCFullYear() === 2024, 'gmt_create read as UTC seconds since the epoch');
});
