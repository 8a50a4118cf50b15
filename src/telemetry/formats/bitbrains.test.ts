import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ValidationError } from '../../core/errors.js';
import { bitbrainsColumnCount, parseBitbrainsBuffer, parseBitbrainsLine, type BitbrainsRow } from './bitbrains.js';
import { datasetPath } from '../../../test/support/datasets.js';

const datasets = datasetPath('bitbrains-rnd-2013-7');

/** What the line parser makes of a text, as rows of the file's 11 numbers. */
function byLines(text: string): { lineNo: number; cells: number[] }[] {
  const out: { lineNo: number; cells: number[] }[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if ((i === 0 && line.startsWith('Timestamp')) || line.trim() === '') return;
    const r: BitbrainsRow = parseBitbrainsLine(line, i + 1);
    const { lineNo, ...cells } = r;
    out.push({ lineNo, cells: Object.values(cells) });
  });
  return out;
}

function byBytes(text: string): { lineNo: number; cells: number[] }[] {
  const c = parseBitbrainsBuffer(Buffer.from(text, 'latin1'));
  return Array.from({ length: c.rows }, (_, r) => ({ lineNo: c.lineNo[r]!, cells: [...c.cells.subarray(r * bitbrainsColumnCount, (r + 1) * bitbrainsColumnCount)] }));
}

test('the byte parser reads exactly what the line parser reads: long decimals, exponents, CRLF, blanks', () => {
  const text = [
    'Timestamp [ms];\tCPU cores;\tCPU capacity provisioned [MHZ];\tCPU usage [MHZ];\tCPU usage [%];\tMemory capacity provisioned [KB];\tMemory usage [KB];\tDisk read throughput [KB/s];\tDisk write throughput [KB/s];\tNetwork received throughput [KB/s];\tNetwork transmitted throughput [KB/s]',
    '1372629804;\t2;\t5851.9989;\t87.7799835;\t1.5;\t8218624.0;\t1034592.8;\t160.86666666666667;\t21.733333333333334;\t0.26666666666666666;\t1.4666666666666666\r',
    '   ',
    '1372630104;\t2;\t5851.9989;\t29.259994499999998;\t0.5;\t8218624.0;\t458575.4666666667;\t0.0;\t2.3333333333333335;\t1e-3;\t1.0E2',
    '1372630404; 4 ;.5;5.;-0;0.1;0.30000000000000004;123456789012345;1234567890123456;12345678901234567890;9007199254740993',
    '1372630704;1E5;-2.5e-3;1.6703488E7;12345678901234567E-2;1e+2;7.0E22;1234567890123456789e3;5e-30;0.5E0;160.86666666666667E1',
  ].join('\n');
  const expected = byLines(text);
  assert.equal(expected.length, 4);
  const actual = byBytes(text);
  assert.equal(actual.length, expected.length);
  for (let r = 0; r < expected.length; r++) {
    assert.equal(actual[r]!.lineNo, expected[r]!.lineNo);
    // Object.is: bit for bit, -0 included.
    expected[r]!.cells.forEach((v, i) => assert.ok(Object.is(actual[r]!.cells[i], v), `line ${expected[r]!.lineNo} cell ${i}: ${actual[r]!.cells[i]} != ${v}`));
  }
});

test('the byte parser refuses what the line parser refuses, naming line and column', () => {
  const row = (cells: string[]): string => cells.join(';\t');
  const good = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11'];
  assert.throws(() => parseBitbrainsBuffer(Buffer.from(row(good.slice(0, 10)))), (e: unknown) => e instanceof ValidationError && e.field === ':1' && /expected 11 columns, found 10/.test(e.message));
  assert.throws(() => parseBitbrainsBuffer(Buffer.from(`${row(good)}\n${row([...good.slice(0, 4), '', ...good.slice(5)])}`)), (e: unknown) => e instanceof ValidationError && e.field === ':2:cpuUsagePercent');
  assert.throws(() => parseBitbrainsBuffer(Buffer.from(row([...good.slice(0, 6), '12abc', ...good.slice(7)]))), (e: unknown) => e instanceof ValidationError && e.field === ':1:memoryUsageKb');
  assert.throws(() => parseBitbrainsBuffer(Buffer.from(row([...good.slice(0, 6), 'Infinity', ...good.slice(7)]))), ValidationError);
  for (const bad of ['1E', '1e+', 'E5', '1E5x', '1.2.3']) {
    assert.throws(() => parseBitbrainsBuffer(Buffer.from(row([...good.slice(0, 6), bad, ...good.slice(7)]))), (e: unknown) => e instanceof ValidationError && e.field === ':1:memoryUsageKb', bad);
  }
});

test('the byte parser agrees with the line parser on real Bitbrains files', { skip: existsSync(datasets) ? false : `${datasets} is absent` }, () => {
  const files = readdirSync(datasets).filter((f) => f.endsWith('.csv')).sort(); // every file: 9 million cells, a third of them past 15 digits
  let cells = 0;
  for (const f of files) {
    const text = readFileSync(join(datasets, f), 'latin1');
    const expected = byLines(text);
    const actual = byBytes(text);
    assert.equal(actual.length, expected.length, f);
    for (let r = 0; r < expected.length; r++) {
      for (let i = 0; i < bitbrainsColumnCount; i++) {
        if (!Object.is(actual[r]!.cells[i], expected[r]!.cells[i])) assert.fail(`${f}:${expected[r]!.lineNo} cell ${i}: ${actual[r]!.cells[i]} != ${expected[r]!.cells[i]}`);
        cells++;
      }
    }
  }
  assert.ok(cells > 500_000, `compared ${cells} cells`);
});
