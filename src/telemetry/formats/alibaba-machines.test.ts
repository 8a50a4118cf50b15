import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { ValidationError } from '../../core/errors.js';
import { datasetHistory } from '../../predict/dataset-history.js';
import { evaluate } from '../../predict/evaluate.js';
import { parseAlibabaMachineLine, readAlibabaMachines, resampleAlibabaMachines, type AlibabaMachineSample } from './alibaba-machines.js';
import { datasetPath } from '../../../test/support/datasets.js';
import { tempDirs } from '../../../test/support/temp-dirs.js';

const tempDir = tempDirs('prescient-alibaba-');
const step = 300_000;
const folder = datasetPath('alibaba-2018-machine-usage');

async function file(text: string): Promise<string> {
  const dir = await tempDir();
  await writeFile(join(dir, 'machine_usage.csv'), text);
  return dir;
}

async function read(path: string): Promise<AlibabaMachineSample[]> {
  const out: AlibabaMachineSample[] = [];
  for await (const s of readAlibabaMachines(path)) out.push(s);
  return out;
}

const rejects = (line: string, field: string, message: RegExp): void => {
  assert.throws(
    () => parseAlibabaMachineLine(line, 7, 'usage.csv'),
    (e: unknown) => e instanceof ValidationError && e.field === field && message.test(e.message),
    `${JSON.stringify(line)} → ${field}`,
  );
};

test('a line becomes a machine, a time in ms and CPU and memory %; empty cells are unknown, the other columns only checked', () => {
  assert.deepEqual(parseAlibabaMachineLine('m_1932,386640,41,92,,,43.04,33.08,5', 3), { lineNo: 3, machineId: 'm_1932', timeMs: 386_640_000, cpuPercent: 41, memoryPercent: 92 });
  assert.deepEqual(parseAlibabaMachineLine('m_1,10,,7.5,1,2,3,4,-1', 4), { lineNo: 4, machineId: 'm_1', timeMs: 10_000, cpuPercent: undefined, memoryPercent: 7.5 });
});

test('hostile lines are refused with the line and the field named', () => {
  rejects('m_1,100,41,92,,,43,33', 'usage.csv:7', /expected 9 columns, found 8/);
  rejects('m_1,100,41,92,,,43,33,5,9', 'usage.csv:7', /expected 9 columns, found 10/);
  rejects('m_1,100,4x1,92,,,43,33,5', 'usage.csv:7:cpu_util', /not a number: "4x1"/);
  rejects('m_1,100,41,NaN,,,43,33,5', 'usage.csv:7:mem_util', /not a number/);
  rejects('m_1,100,41,92,,,43,Infinity,5', 'usage.csv:7:net_out', /not a number/);
  rejects('m_1,100,41,92,abc,,43,33,5', 'usage.csv:7:mem_gps', /not a number/);
  rejects('m_1,100,141,92,,,43,33,5', 'usage.csv:7:cpu_util', /\[0, 100\], found 141/);
  rejects('m_1,100,41,-3,,,43,33,5', 'usage.csv:7:mem_util', /\[0, 100\], found -3/);
  rejects('m_1,,41,92,,,43,33,5', 'usage.csv:7:time_stamp', /whole seconds/);
  rejects('m_1,12.5,41,92,,,43,33,5', 'usage.csv:7:time_stamp', /whole seconds/);
  rejects('m_1,-10,41,92,,,43,33,5', 'usage.csv:7:time_stamp', /whole seconds/);
  rejects('m_1,1e12,41,92,,,43,33,5', 'usage.csv:7:time_stamp', /whole seconds/);
  rejects(',100,41,92,,,43,33,5', 'usage.csv:7:machine_id', /machine id/);
  rejects('../etc/passwd,100,41,92,,,43,33,5', 'usage.csv:7:machine_id', /machine id/);
  rejects(`${'m'.repeat(65)},100,41,92,,,43,33,5`, 'usage.csv:7:machine_id', /machine id/);
});

test('resampling: the mean of each 5-minute step, a step without samples repeating the one before, each machine from its first step', () => {
  const s = (machineId: string, t: number, cpu: number | undefined, mem: number | undefined, lineNo = 1): AlibabaMachineSample => ({ lineNo, machineId, timeMs: t * 1000, cpuPercent: cpu, memoryPercent: mem });
  const [a, b] = resampleAlibabaMachines(
    [
      s('m_2', 310, 10, 50), // step 1
      s('m_2', 590, 20, 60), // step 1: mean 15 / 55
      s('m_2', 600, 40, undefined), // step 2: memory unknown, repeats step 1
      // steps 3 and 4: no sample
      s('m_2', 1500, 8, 70), // step 5
      s('m_10', 0, 3, 4),
    ],
    step,
  );
  // Natural order of ids (m_2 before m_10), as the other traces' subjects.
  assert.equal(a!.machineId, 'm_2');
  assert.equal(b!.machineId, 'm_10');
  assert.equal(a!.startMs, 300_000);
  assert.deepEqual([...a!.cpuPercent], [15, 40, 40, 40, 8]);
  assert.deepEqual([...a!.memoryPercent], [55, 55, 55, 55, 70]);
  assert.equal(a!.filledSteps, 2);
  assert.deepEqual([[...b!.cpuPercent], [...b!.memoryPercent], b!.filledSteps], [[3], [4], 0]);
});

test('a column with no value in its first steps takes its first mean; a machine with no memory value gets 0 %', () => {
  const s = (t: number, cpu: number | undefined, mem: number | undefined): AlibabaMachineSample => ({ lineNo: 1, machineId: 'm', timeMs: t * 1000, cpuPercent: cpu, memoryPercent: mem });
  const [m] = resampleAlibabaMachines([s(0, undefined, undefined), s(300, 5, undefined), s(600, 7, undefined)], step);
  assert.deepEqual([...m!.cpuPercent], [5, 5, 7]);
  assert.deepEqual([...m!.memoryPercent], [0, 0, 0]);
});

test('a time stamp that would make a machine span more than a year is refused, naming the line', () => {
  const s = (t: number, lineNo: number): AlibabaMachineSample => ({ lineNo, machineId: 'm_9', timeMs: t * 1000, cpuPercent: 1, memoryPercent: 1 });
  assert.throws(
    () => resampleAlibabaMachines([s(0, 1), s(400 * 86_400, 2)], step),
    (e: unknown) => e instanceof ValidationError && e.field === 'line 2:time_stamp' && /m_9/.test(e.message),
  );
});

test('unsorted and interleaved time stamps give the same series as the sorted file', async () => {
  const sorted = ['m_1,0,10,20,,,1,1,1', 'm_1,300,30,40,,,1,1,1', 'm_1,310,50,60,,,1,1,1', 'm_1,900,70,80,,,1,1,1', 'm_2,600,1,2,,,1,1,1', 'm_2,900,3,4,,,1,1,1'];
  const shuffled = [sorted[3], sorted[4], sorted[1], '', sorted[0], sorted[5], sorted[2]];
  const a = resampleAlibabaMachines(await read(join(await file(sorted.join('\n')), 'machine_usage.csv')), step);
  const b = resampleAlibabaMachines(await read(join(await file(shuffled.join('\r\n') + '\r\n'), 'machine_usage.csv')), step);
  assert.deepEqual(b, a);
  assert.deepEqual([...a[0]!.cpuPercent], [10, 40, 40, 70]);
  assert.deepEqual(a[1]!.startMs, 600_000);
});

test('eval --format alibaba-machines reads a folder: every machine a subject, CPU and memory scored; a machine with one sample does not end it', async () => {
  const lines: string[] = [];
  // Two machines over two days with gaps, one machine with a single sample.
  for (const m of ['m_1', 'm_2']) {
    for (let t = 0; t < 2 * 86_400; t += 120) {
      if (t > 30_000 && t < 40_000) continue; // a gap of almost 3 h
      const cpu = 20 + 10 * Math.sin(t / 7000) + (m === 'm_2' ? 30 : 0);
      lines.push(`${m},${t},${cpu.toFixed(0)},${(50 + (t % 3600) / 360).toFixed(1)},,,10,10,1`);
    }
  }
  lines.push('m_3,600,5,6,,,,,');
  const dir = await file(lines.join('\n') + '\n');
  const history = datasetHistory({ path: dir, format: 'alibaba-machines' });
  assert.deepEqual((await history.subjects()).map((s) => [s.id, s.category]), [['m_1', 'alibaba-machines'], ['m_2', 'alibaba-machines'], ['m_3', 'alibaba-machines']]);
  const one = (await history.resourceSeries('m_3'))!;
  assert.deepEqual([one.startMs, one.stepMs, [...one.cpuPercent], [...one.memoryPercent!]], [600_000, step, [5], [6]]);
  assert.equal(one.diskReadKBps, undefined, 'disk and network are not mapped (not KB/s)');
  assert.equal((await history.resourceSeries('m_1'))!.cpuPercent.length, 576);
  assert.equal(await history.resourceSeries('nope'), undefined);
  const report = await evaluate({ history, format: 'alibaba-machines', network: false, horizons: [12] });
  assert.deepEqual(report.resources.map((r) => [r.target, r.horizonSteps]), [['cpuPercent', 12], ['memoryPercent', 12]], 'CPU and memory by default');
  assert.equal(report.subjects, 3);
  for (const r of report.resources) assert.ok(r.rows.every((x) => Number.isFinite(x.pinballP95)));
});

test('a folder without machine_usage.csv, or a file with a hostile line, is a ValidationError naming it', async () => {
  const empty = await tempDir();
  await assert.rejects(datasetHistory({ path: empty, format: 'alibaba-machines' }).subjects(), (e: unknown) => e instanceof ValidationError && e.field === '--dataset');
  const bad = await file('m_1,0,10,20,,,1,1,1\nm_1,300,ten,20,,,1,1,1\n');
  await assert.rejects(datasetHistory({ path: bad, format: 'alibaba-machines' }).subjects(), (e: unknown) => e instanceof ValidationError && e.field === `${join(bad, 'machine_usage.csv')}:2:cpu_util`);
});

test('the shipped Alibaba 2018 sample: 16 machines over 8 days at 5-minute steps, about 12 % of steps filled', { skip: existsSync(folder) ? false : `needs ${folder} (the shared datasets)` }, async () => {
  const history = datasetHistory({ path: folder, format: 'alibaba-machines' });
  const ids = (await history.subjects()).map((s) => s.id);
  assert.deepEqual(ids, Array.from({ length: 16 }, (_, i) => `m_${1932 + i}`));
  const series = await Promise.all(ids.map(async (id) => (await history.resourceSeries(id))!));
  // Lengths and starts from the time stamps alone (awk over the file gives the same).
  assert.equal(series[1]!.cpuPercent.length, 2304, 'm_1933: 8 days');
  assert.deepEqual([series[0]!.startMs, series[0]!.cpuPercent.length], [1288 * step, 1016]);
  assert.equal(series[15]!.cpuPercent.length, 628, 'm_1947 stops after 2.2 days');
  for (const s of series) {
    assert.equal(s.memoryPercent!.length, s.cpuPercent.length);
    assert.ok(s.cpuPercent.every((v) => v >= 0 && v <= 100) && s.memoryPercent!.every((v) => v >= 0 && v <= 100));
  }
  const machines = resampleAlibabaMachines(await read(join(folder, 'machine_usage.csv')), step);
  const filled = machines.reduce((a, m) => a + m.filledSteps, 0);
  const steps = machines.reduce((a, m) => a + m.cpuPercent.length, 0);
  assert.equal(filled, 4210);
  assert.ok(filled / steps > 0.11 && filled / steps < 0.13, `${filled} of ${steps}`);
});
