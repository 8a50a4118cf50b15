import { ValidationError } from '../../core/errors.js';
import { readLineBatches } from './line-reader.js';

/**
 * One row of the Alibaba cluster trace 2018's `machine_usage.csv` (no header, `,` separated):
 * machine_id, time_stamp (s from the trace's start), cpu_util %, mem_util %, mem_gps, mkpi,
 * net_in, net_out, disk_io %; an empty cell is unknown. All machines share one file; samples are
 * irregular (multiples of 10 s) with gaps. Only CPU and memory are kept: net_in/net_out are
 * normalised counters (they only grow, in no stated unit) and disk_io is a busy percentage, while
 * the product's disk and network targets are KB/s read, written, received and sent — there is
 * nothing to convert them with, so mapping them would score a forecast of a different quantity.
 * The other cells are still checked (a number or empty), so a shifted line is caught.
 */
export interface AlibabaMachineSample {
  lineNo: number;
  machineId: string;
  timeMs: number;
  /** cpu_util, % of the machine's cores; undefined when the cell is empty. */
  cpuPercent: number | undefined;
  /** mem_util, % of the machine's memory; undefined when the cell is empty. */
  memoryPercent: number | undefined;
}

const columns = ['machine_id', 'time_stamp', 'cpu_util', 'mem_util', 'mem_gps', 'mkpi', 'net_in', 'net_out', 'disk_io'] as const;

/** Machine ids are pseudonyms like m_1932; anything else (paths, markup, long strings) is refused. */
const machineIdPattern = /^[A-Za-z0-9_.-]{1,64}$/;

/** time_stamp is seconds from the trace's start; beyond 2^31 s (68 years) it is not this trace. */
const maxTimeStampS = 2 ** 31;

export async function* readAlibabaMachines(path: string, signal?: AbortSignal): AsyncGenerator<AlibabaMachineSample> {
  for await (const lines of readLineBatches(path, signal)) {
    for (const { line, lineNo } of lines) {
      if (line.trim() === '') continue;
      yield parseAlibabaMachineLine(line, lineNo, path);
    }
  }
}

export function parseAlibabaMachineLine(line: string, lineNo: number, path = ''): AlibabaMachineSample {
  const cells = line.split(',');
  if (cells.length !== columns.length) throw new ValidationError(`${path}:${lineNo}`, `expected ${columns.length} columns, found ${cells.length}`);
  const field = (i: number): string => `${path}:${lineNo}:${columns[i]}`;
  const machineId = cells[0]!.trim();
  if (!machineIdPattern.test(machineId)) throw new ValidationError(field(0), `expected a machine id (letters, digits, _ . -, at most 64), found ${JSON.stringify(cells[0]!.slice(0, 80))}`);
  const number = (i: number): number | undefined => {
    const c = cells[i]!.trim();
    if (c === '') return undefined;
    const n = Number(c);
    if (!Number.isFinite(n)) throw new ValidationError(field(i), `not a number: ${JSON.stringify(c.slice(0, 80))}`);
    return n;
  };
  const ts = number(1);
  if (ts === undefined || !Number.isInteger(ts) || ts < 0 || ts > maxTimeStampS) throw new ValidationError(field(1), `expected whole seconds from the trace's start, found ${JSON.stringify(cells[1]!.slice(0, 80))}`);
  const percent = (i: number): number | undefined => {
    const v = number(i);
    if (v !== undefined && (v < 0 || v > 100)) throw new ValidationError(field(i), `expected a percentage in [0, 100], found ${v}`);
    return v;
  };
  const cpuPercent = percent(2);
  const memoryPercent = percent(3);
  for (let i = 4; i < columns.length; i++) number(i);
  return { lineNo, machineId, timeMs: ts * 1000, cpuPercent, memoryPercent };
}

/** One machine resampled to regular steps. */
export interface AlibabaMachineSeries {
  machineId: string;
  /** The start of the step holding its first sample. */
  startMs: number;
  stepMs: number;
  cpuPercent: Float64Array;
  memoryPercent: Float64Array;
  /** Steps with no CPU sample, filled with the step before (the memory column is filled the same way). */
  filledSteps: number;
}

/** A machine spanning more than a year of steps is refused rather than allocated (a hostile time stamp). */
const maxSteps = 366 * 288;

/**
 * Every machine's samples resampled to `stepMs` steps, in machine-id order. Order-independent:
 * a sample belongs to the step ⌊t / stepMs⌋ of the trace's clock, wherever it is in the file.
 *
 * Mean per step, not max: what the other traces' and the product's values mean. A Bitbrains row
 * is the average use over its 5-minute sampling interval, and the product's own history
 * (`store-history.ts`) reads each 5-minute rollup's mean; a max would put this trace on a higher
 * scale than the forecasts and baselines were built for (p95 targets are taken of the steps).
 *
 * Gaps: a step with no sample repeats the step before, as `store-history.ts` does with a missing
 * rollup, so the series is regular like every other. Measured on the shipped file's time stamps
 * only (not on any forecast): 96 % of the intervals between samples are ≤ 5 min, 12 % of the steps
 * have no sample, most in a few long gaps (25 runs over 3 h, up to 7.4 h, hold 36 % of the
 * empty steps). Those steps are then scored as if observed, flat: said in docs/prediction.md.
 */
export function resampleAlibabaMachines(samples: Iterable<AlibabaMachineSample>, stepMs: number): AlibabaMachineSeries[] {
  interface Acc {
    first: number;
    last: number;
    firstLine: number;
    cpu: Map<number, [number, number]>;
    mem: Map<number, [number, number]>;
  }
  const machines = new Map<string, Acc>();
  for (const s of samples) {
    const step = Math.floor(s.timeMs / stepMs);
    let m = machines.get(s.machineId);
    if (!m) machines.set(s.machineId, (m = { first: step, last: step, firstLine: s.lineNo, cpu: new Map(), mem: new Map() }));
    m.first = Math.min(m.first, step);
    m.last = Math.max(m.last, step);
    if (m.last - m.first + 1 > maxSteps) throw new ValidationError(`line ${s.lineNo}:time_stamp`, `machine ${s.machineId} would span more than ${maxSteps} steps (first seen on line ${m.firstLine})`);
    add(m.cpu, step, s.cpuPercent);
    add(m.mem, step, s.memoryPercent);
  }
  return [...machines.entries()]
    .sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))
    .map(([machineId, m]) => {
      const n = m.last - m.first + 1;
      const cpu = fill(m.cpu, m.first, n);
      return { machineId, startMs: m.first * stepMs, stepMs, cpuPercent: cpu.values, memoryPercent: fill(m.mem, m.first, n).values, filledSteps: cpu.filled };
    });
}

function add(acc: Map<number, [number, number]>, step: number, v: number | undefined): void {
  if (v === undefined) return;
  const c = acc.get(step);
  if (c) {
    c[0] += v;
    c[1]++;
  } else acc.set(step, [v, 1]);
}

/** Means per step, a step without samples repeating the one before (before the first sample: the first mean). */
function fill(acc: Map<number, [number, number]>, first: number, n: number): { values: Float64Array; filled: number } {
  const values = new Float64Array(n);
  let last = Number.NaN;
  let filled = 0;
  for (let i = 0; i < n; i++) {
    const c = acc.get(first + i);
    if (c) last = c[0] / c[1];
    else filled++;
    values[i] = last;
  }
  // A column whose first steps (or all) have no sample: the first mean seen, else 0.
  const firstMean = values.find((v) => !Number.isNaN(v)) ?? 0;
  for (let i = 0; i < n && Number.isNaN(values[i]!); i++) values[i] = firstMean;
  return { values, filled };
}
