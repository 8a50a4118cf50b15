import { ValidationError } from '../../core/errors.js';
import { decimalToDouble } from './decimal-to-double.js';
import { readLineBatches } from './line-reader.js';

/**
 * One row of the Bitbrains GWA-T-12 trace (one file per VM, `;` + tab separated, header line).
 * The header says "[ms]" but the timestamps are epoch seconds; we return milliseconds.
 */
export interface BitbrainsRow {
  lineNo: number;
  timeMs: number;
  cpuCores: number;
  cpuCapacityMhz: number;
  cpuUsageMhz: number;
  cpuUsagePercent: number;
  memoryCapacityKb: number;
  memoryUsageKb: number;
  diskReadKBps: number;
  diskWriteKBps: number;
  netInKBps: number;
  netOutKBps: number;
}

const columns = [
  'timeMs',
  'cpuCores',
  'cpuCapacityMhz',
  'cpuUsageMhz',
  'cpuUsagePercent',
  'memoryCapacityKb',
  'memoryUsageKb',
  'diskReadKBps',
  'diskWriteKBps',
  'netInKBps',
  'netOutKBps',
] as const;

export async function* readBitbrains(path: string, signal?: AbortSignal): AsyncGenerator<BitbrainsRow> {
  for await (const rows of readBitbrainsBatches(path, signal)) yield* rows;
}

/** The same rows, a chunk at a time (bulk import: one await per chunk, not per row). */
export async function* readBitbrainsBatches(path: string, signal?: AbortSignal): AsyncGenerator<BitbrainsRow[]> {
  for await (const lines of readLineBatches(path, signal)) {
    const rows: BitbrainsRow[] = [];
    for (const { line, lineNo } of lines) {
      if (lineNo === 1 && line.startsWith('Timestamp')) continue;
      if (line.trim() === '') continue;
      rows.push(parseBitbrainsLine(line, lineNo, path));
    }
    if (rows.length > 0) yield rows;
  }
}

export function parseBitbrainsLine(line: string, lineNo: number, path = ''): BitbrainsRow {
  const cells = line.split(';');
  if (cells.length !== columns.length) {
    throw new ValidationError(`${path}:${lineNo}`, `expected ${columns.length} columns, found ${cells.length}`);
  }
  // Number() ignores the tab after each ';'. A literal object keeps one hidden class for the
  // 800,000 rows of a month; building it key by key did not.
  const v = (i: number): number => {
    const c = cells[i]!;
    const n = Number(c);
    // Number('') and Number('\t') are 0: only then is it worth checking for an empty cell.
    if (!Number.isFinite(n) || (n === 0 && c.trim() === '')) throw new ValidationError(`${path}:${lineNo}:${columns[i]}`, `not a number: ${JSON.stringify(cells[i])}`);
    return n;
  };
  return {
    lineNo,
    timeMs: v(0) * 1000,
    cpuCores: v(1),
    cpuCapacityMhz: v(2),
    cpuUsageMhz: v(3),
    cpuUsagePercent: v(4),
    memoryCapacityKb: v(5),
    memoryUsageKb: v(6),
    diskReadKBps: v(7),
    diskWriteKBps: v(8),
    netInKBps: v(9),
    netOutKBps: v(10),
  };
}

/**
 * A whole file's rows column-wise, for bulk import: `cells` holds `rows × 11` numbers in the
 * file's column order (the first already in ms), `lineNo` where each row was. Same rules and
 * errors as parseBitbrainsLine, but no string or object per row or cell: the bytes are read
 * directly, and only a number too long for an exact fast conversion becomes a string.
 */
export interface BitbrainsColumns {
  rows: number;
  lineNo: Int32Array;
  cells: Float64Array;
}

export const bitbrainsColumnCount = columns.length;

// Exact powers of ten: a decimal with at most 15 significant digits divided by one of these is
// correctly rounded (both operands are exact doubles), so it equals what Number() returns.
const pow10 = Array.from({ length: 23 }, (_, i) => 10 ** i);

export function parseBitbrainsBuffer(buf: Buffer, path = ''): BitbrainsColumns {
  const C = columns.length;
  let capacity = 1024;
  let cells = new Float64Array(capacity * C);
  let lineNos = new Int32Array(capacity);
  let rows = 0;
  let lineNo = 0;
  let pos = 0;
  const n = buf.length;
  while (pos < n) {
    lineNo++;
    let end = buf.indexOf(10, pos);
    if (end === -1) end = n;
    const next = end + 1;
    if (end > pos && buf[end - 1] === 13) end--;
    // Header and blank lines are skipped, as by readBitbrainsBatches.
    let first = pos;
    while (first < end && (buf[first] === 32 || buf[first] === 9)) first++;
    if (first === end || (lineNo === 1 && buf[pos] === 84) /* T(imestamp) */) {
      pos = next;
      continue;
    }
    if (rows === capacity) {
      capacity *= 2;
      const c2 = new Float64Array(capacity * C);
      c2.set(cells);
      cells = c2;
      const l2 = new Int32Array(capacity);
      l2.set(lineNos);
      lineNos = l2;
    }
    const base = rows * C;
    let col = 0;
    let p = pos;
    for (;;) {
      // One cell: blanks, [-]digits[.digits], blanks, then ';' or the end of the line.
      let s = p;
      while (s < end && (buf[s] === 9 || buf[s] === 32)) s++;
      let i = s;
      const negative = buf[i] === 45;
      if (negative) i++;
      let mantissa = 0; // the first 15 significant digits
      let tail = 0; // the digits after them (at most 4 are used)
      let digits = 0;
      let fraction = -1;
      let any = false;
      for (; i < end; i++) {
        const c = buf[i]!;
        if (c >= 48 && c <= 57) {
          any = true;
          if (digits > 0 || c !== 48) digits++;
          if (digits <= 15) mantissa = mantissa * 10 + (c - 48);
          else tail = tail * 10 + (c - 48);
          if (fraction >= 0) fraction++;
        } else if (c === 46 && fraction < 0) fraction = 0;
        else break;
      }
      // An exponent (1.6703488E7: a tenth of the cells of some files).
      let exponent = 0;
      if (any && (buf[i] === 69 || buf[i] === 101)) {
        let j = i + 1;
        const minus = buf[j] === 45;
        if (minus || buf[j] === 43) j++;
        const from = j;
        while (j < end && j - from < 4 && buf[j]! >= 48 && buf[j]! <= 57) exponent = exponent * 10 + (buf[j++]! - 48);
        if (j === from) any = false; // "1E": Number() refuses it, and so does slowCell
        if (minus) exponent = -exponent;
        i = j;
      }
      let e = i;
      while (e < end && (buf[e] === 9 || buf[e] === 32)) e++;
      // value = digits / 10^f. At most 15 significant digits: the digits and 10^|f| are exact
      // doubles and one division (or product) is correctly rounded, so this equals Number(); up to
      // 19, decimalToDouble does it exactly (or declines); other cells go to Number() itself.
      const f = Math.max(0, fraction) - exponent;
      let value = Number.NaN;
      if (any && digits <= 19 && f <= 22 && f >= -22 && (e === end || buf[e] === 59)) {
        if (digits <= 15) value = f > 0 ? mantissa / pow10[f]! : f < 0 ? mantissa * pow10[-f]! : mantissa;
        else if (f >= 0) value = decimalToDouble(mantissa, tail, digits - 15, f);
        if (negative) value = -value;
      }
      if (value !== value) {
        while (e < end && buf[e] !== 59) e++;
        value = slowCell(buf, s, e, path, lineNo, col);
      }
      if (col < C) cells[base + col] = value;
      col++;
      if (e >= end) break;
      p = e + 1;
    }
    if (col !== C) throw new ValidationError(`${path}:${lineNo}`, `expected ${C} columns, found ${col}`);
    cells[base] = cells[base]! * 1000;
    lineNos[rows] = lineNo;
    rows++;
    pos = next;
  }
  return { rows, lineNo: lineNos.subarray(0, rows), cells: cells.subarray(0, rows * C) };
}

/** A cell the fast path does not take, read as parseBitbrainsLine reads it (Number, blanks allowed). */
function slowCell(buf: Buffer, start: number, end: number, path: string, lineNo: number, col: number): number {
  let e = end;
  while (e > start && (buf[e - 1] === 9 || buf[e - 1] === 32)) e--;
  // latin1Slice is what toString('latin1') ends in, minus its argument checks: 2 million calls.
  const text = (buf as unknown as { latin1Slice(start: number, end: number): string }).latin1Slice(start, e);
  const v = Number(text);
  if (text === '' || !Number.isFinite(v)) throw new ValidationError(`${path}:${lineNo}:${columns[col] ?? `column ${col + 1}`}`, `not a number: ${JSON.stringify(text)}`);
  return v;
}
