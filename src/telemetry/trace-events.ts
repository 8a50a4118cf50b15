import { basename, extname } from 'node:path';
import type { EventSource, ResourceField, ResourceSample, TelemetryEvent } from './event.js';
import { readBitbrainsBatches } from './formats/bitbrains.js';
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
  if (!(e.time >= 0)) return { ok: false, at, reason: 'time: before 1970', source: e.source };
  for (const f of fields) {
    const v = e[f];
    if (v !== undefined && !(v >= 0)) return { ok: false, at, reason: `${f}: must not be negative`, source: e.source };
  }
  return { ok: true, event: e, at };
}
