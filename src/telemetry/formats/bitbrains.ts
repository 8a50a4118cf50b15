import { ValidationError } from '../../core/errors.js';
import { readLines } from './line-reader.js';

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
  for await (const { line, lineNo } of readLines(path, signal)) {
    if (lineNo === 1 && line.startsWith('Timestamp')) continue;
    if (line.trim() === '') continue;
    yield parseBitbrainsLine(line, lineNo, path);
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
    const n = Number(cells[i]);
    if (!Number.isFinite(n) || cells[i]!.trim() === '') throw new ValidationError(`${path}:${lineNo}:${columns[i]}`, `not a number: ${JSON.stringify(cells[i])}`);
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
