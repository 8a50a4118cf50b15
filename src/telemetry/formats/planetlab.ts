import { basename, dirname } from 'node:path';
import { ValidationError } from '../../core/errors.js';
import { readLines } from './line-reader.js';

/**
 * PlanetLab CPU traces as shipped with CloudSim: one file per VM-day in a folder named after
 * the day (YYYYMMDD), one integer CPU % per line, 288 lines at 5-minute steps from midnight UTC.
 */
export interface PlanetlabSample {
  lineNo: number;
  vm: string;
  timeMs: number;
  cpuPercent: number;
}

export const planetlabStepMs = 5 * 60 * 1000;

export function planetlabDayStartMs(path: string): number {
  const day = basename(dirname(path));
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(day);
  if (!m) throw new ValidationError(path, `PlanetLab files live in a folder named YYYYMMDD, found ${JSON.stringify(day)}`);
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
}

export async function* readPlanetlab(path: string, signal?: AbortSignal): AsyncGenerator<PlanetlabSample> {
  const start = planetlabDayStartMs(path);
  const vm = basename(path);
  for await (const { line, lineNo } of readLines(path, signal)) {
    const text = line.trim();
    if (text === '') continue;
    const v = Number(text);
    if (!Number.isFinite(v) || v < 0) throw new ValidationError(`${path}:${lineNo}`, `expected a CPU percentage, found ${JSON.stringify(text)}`);
    yield { lineNo, vm, timeMs: start + (lineNo - 1) * planetlabStepMs, cpuPercent: v };
  }
}
