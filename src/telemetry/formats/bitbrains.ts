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
  const row: Record<string, number> = { lineNo };
  for (let i = 0; i < columns.length; i++) {
    const v = Number(cells[i]!.trim());
    if (!Number.isFinite(v)) throw new ValidationError(`${path}:${lineNo}:${columns[i]}`, `not a number: ${JSON.stringify(cells[i])}`);
    row[columns[i]!] = v;
  }
  row.timeMs = row.timeMs! * 1000;
  return row as unknown as BitbrainsRow;
}
