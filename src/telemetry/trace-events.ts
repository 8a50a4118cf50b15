import { basename, extname } from 'node:path';
import { timeProblem, type EventSource, type ResourceField, type ResourceSample, type TelemetryEvent } from '../contracts/telemetry-event.js';
import { bitbrainsColumnCount, parseBitbrainsBuffer, readBitbrainsBatches } from './formats/bitbrains.js';
import type { RecordError } from './ingest-batch.js';
import { resourceWidth, type ResourceColumns } from '../contracts/resource-columns.js';
import { readCommands } from './formats/commands.js';
import { readPlanetlab } from './formats/planetlab.js';
import type { RecordResult } from './record-result.js';

/**
 * The public traces (../shared/datasets) as TelemetryEvents. The readers already check that
 * every cell is a finite number; here values must also be non-negative. Subjects are named after
 * the files: a Bitbrains or PlanetLab file is one VM, a Schonlau file is one user.
 */
/** Bitbrains yields records a chunk at a time (the benchmark's path); the others one by one. */
export interface TraceDefaults {
  source: EventSource;
  category?: string | undefined;
  /** Commands carry no clock: the n-th command gets `startMs + (n − 1) s` and seq n. */
  startMs?: number;
}

const kb = 1024;

export async function* bitbrainsEvents(path: string, d: TraceDefaults, signal?: AbortSignal): AsyncGenerator<RecordResult[]> {
  const subject = { kind: 'vm' as const, id: basename(path, extname(path)) };
  for await (const rows of readBitbrainsBatches(path, signal)) {
    yield rows.map((r) => {
      const e: ResourceSample = {
        kind: 'resource',
        time: r.timeMs,
        subject,
        source: d.source,
        ...(d.category === undefined ? {} : { category: d.category }),
        cpuCores: r.cpuCores,
        cpuPercent: r.cpuUsagePercent,
        memoryBytes: r.memoryUsageKb * kb,
        memoryTotalBytes: r.memoryCapacityKb * kb,
        diskReadBps: r.diskReadKBps * kb,
        diskWriteBps: r.diskWriteKBps * kb,
        netInBps: r.netInKBps * kb,
        netOutBps: r.netOutKBps * kb,
      };
      return checked(e, path, r.lineNo);
    });
  }
}

/** A Bitbrains file's valid samples column-wise (the bulk path), and its invalid rows. */
export interface TraceColumns {
  columns: ResourceColumns;
  invalid: (RecordError & { source: EventSource })[];
  /** The line of each valid sample. */
  lineNo: Int32Array;
  /** Rows read, valid or not. */
  records: number;
}

/** The same samples as bitbrainsEvents, from a file's bytes, without an object per sample. */
export function bitbrainsColumns(bytes: Buffer, path: string, d: TraceDefaults): TraceColumns {
  const parsed = parseBitbrainsBuffer(bytes, path);
  const C = bitbrainsColumnCount;
  const time = new Float64Array(parsed.rows);
  const values = new Float64Array(parsed.rows * resourceWidth);
  const lineNo = new Int32Array(parsed.rows);
  const invalid: TraceColumns['invalid'] = [];
  // In resourceFields order: cores, cpu %, memory used, memory total, disk r/w, net in/out.
  const pick = [1, 4, 6, 5, 7, 8, 9, 10];
  const scale = [1, 1, kb, kb, kb, kb, kb, kb];
  const cells = parsed.cells;
  let rows = 0;
  rowLoop: for (let r = 0; r < parsed.rows; r++) {
    const t = cells[r * C]!;
    const problem = timeProblem(t);
    if (problem !== undefined) {
      invalid.push({ at: `${path}:${parsed.lineNo[r]}`, reason: `time: ${problem}`, source: d.source });
      continue;
    }
    const out = rows * resourceWidth;
    for (let f = 0; f < resourceWidth; f++) {
      const x = cells[r * C + pick[f]!]! * scale[f]!;
      if (!(x >= 0)) {
        invalid.push({ at: `${path}:${parsed.lineNo[r]}`, reason: `${fields[f]}: must not be negative`, source: d.source });
        continue rowLoop;
      }
      values[out + f] = x;
    }
    time[rows] = t;
    lineNo[rows] = parsed.lineNo[r]!;
    rows++;
  }
  return {
    columns: {
      subject: { kind: 'vm', id: basename(path, extname(path)) },
      source: d.source,
      category: d.category,
      rows,
      time: time.subarray(0, rows),
      values: values.subarray(0, rows * resourceWidth),
      positionOf: (i) => `${path}:${lineNo[i]}`,
    },
    invalid,
    lineNo: lineNo.subarray(0, rows),
    records: parsed.rows,
  };
}

export async function* planetlabEvents(path: string, d: TraceDefaults, signal?: AbortSignal): AsyncGenerator<RecordResult> {
  for await (const r of readPlanetlab(path, signal)) {
    const e: ResourceSample = {
      kind: 'resource',
      time: r.timeMs,
      subject: { kind: 'vm', id: r.vm },
      source: d.source,
      ...(d.category === undefined ? {} : { category: d.category }),
      cpuPercent: r.cpuPercent,
    };
    yield checked(e, path, r.lineNo);
  }
}

export async function* commandEvents(path: string, d: TraceDefaults, signal?: AbortSignal): AsyncGenerator<RecordResult> {
  const start = d.startMs ?? 0;
  for await (const r of readCommands(path, signal)) {
    const e: TelemetryEvent = {
      kind: 'command',
      time: start + (r.lineNo - 1) * 1000,
      seq: r.lineNo,
      subject: { kind: 'user', id: r.user },
      source: d.source,
      ...(d.category === undefined ? {} : { category: d.category }),
      command: r.program,
    };
    yield { ok: true, event: e, at: `${path}:${r.lineNo}` };
  }
}

const fields: readonly ResourceField[] = ['cpuCores', 'cpuPercent', 'memoryBytes', 'memoryTotalBytes', 'diskReadBps', 'diskWriteBps', 'netInBps', 'netOutBps'];

function checked(e: ResourceSample, path: string, lineNo: number): RecordResult {
  const at = `${path}:${lineNo}`;
  const problem = timeProblem(e.time);
  if (problem !== undefined) return { ok: false, at, reason: `time: ${problem}`, source: e.source };
  for (const f of fields) {
    const v = e[f];
    if (v !== undefined && !(v >= 0)) return { ok: false, at, reason: `${f}: must not be negative`, source: e.source };
  }
  return { ok: true, event: e, at };
}
