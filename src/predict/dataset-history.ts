import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { NotFoundError, ValidationError } from '../core/errors.js';
import { readAlibabaMachines, resampleAlibabaMachines, type AlibabaMachineSample } from '../telemetry/formats/alibaba-machines.js';
import { readBitbrains } from '../telemetry/formats/bitbrains.js';
import { readCommands } from '../telemetry/formats/commands.js';
import { planetlabDayStartMs, planetlabStepMs, readPlanetlab } from '../telemetry/formats/planetlab.js';
import { resourceStepMs, type HistorySource, type LaunchEvent, type ResourceSeries, type Subject } from './history.js';

export const datasetFormats = ['bitbrains', 'planetlab', 'alibaba-machines', 'commands'] as const;
export type DatasetFormat = (typeof datasetFormats)[number];

export interface DatasetHistoryOptions {
  /** A trace folder (or, for commands, a single file). */
  path: string;
  format: DatasetFormat;
  /** Category given to every subject; defaults to the format name. */
  category?: string;
}

/**
 * A HistorySource over one of the public traces, read with the trace readers. Bitbrains and
 * PlanetLab give resource series (one subject per file; PlanetLab's VM-day files each become a
 * subject `YYYYMMDD/name`), command files give launch sequences (one subject per user file,
 * the Schonlau `label.txt` is skipped). Alibaba 2018's `machine_usage.csv` holds every machine
 * in one file: each machine is a subject, resampled to 5-minute steps (CPU and memory only;
 * `alibaba-machines.ts` says why). Series are read once and kept.
 */
export function datasetHistory(options: DatasetHistoryOptions): HistorySource {
  const category = options.category ?? options.format;
  let subjectFiles: Promise<Map<string, string>> | undefined;
  const series = new Map<string, Promise<ResourceSeries | undefined>>();
  const launches = new Map<string, Promise<LaunchEvent[]>>();

  let machines: Promise<Map<string, ResourceSeries>> | undefined;
  const alibaba = (signal?: AbortSignal): Promise<Map<string, ResourceSeries>> => (machines ??= readAlibabaSeries(options.path, signal));
  const files = (): Promise<Map<string, string>> => (subjectFiles ??= listSubjectFiles(options.path, options.format));
  const fileOf = async (id: string): Promise<string | undefined> => (await files()).get(id);

  return {
    name: `${options.format}:${options.path}`,
    async subjects(): Promise<Subject[]> {
      const ids = options.format === 'alibaba-machines' ? (await alibaba()).keys() : (await files()).keys();
      return [...ids].map((id) => ({ id, category }));
    },
    resourceSeries(id, signal) {
      if (options.format === 'commands') return Promise.resolve(undefined);
      if (options.format === 'alibaba-machines') return alibaba(signal).then((m) => m.get(id));
      let p = series.get(id);
      if (!p) {
        p = fileOf(id).then((file) => (file === undefined ? undefined : options.format === 'bitbrains' ? readBitbrainsSeries(id, file, signal) : readPlanetlabSeries(id, file, signal)));
        series.set(id, p);
      }
      return p;
    },
    launches(id, signal) {
      if (options.format !== 'commands') return Promise.resolve([]);
      let p = launches.get(id);
      if (!p) {
        p = fileOf(id).then(async (file) => {
          if (file === undefined) return [];
          const out: LaunchEvent[] = [];
          for await (const r of readCommands(file, signal)) out.push({ program: r.program });
          return out;
        });
        launches.set(id, p);
      }
      return p;
    },
    // The public traces carry no flows or data accesses.
    networkFlows: () => Promise.resolve([]),
    dataAccesses: () => Promise.resolve([]),
  };
}

async function listSubjectFiles(path: string, format: DatasetFormat): Promise<Map<string, string>> {
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new NotFoundError(`no dataset at ${path}`, { path });
  const out = new Map<string, string>();
  if (info.isFile()) {
    out.set(path.split('/').pop()!, path);
    return out;
  }
  if (format === 'planetlab') {
    for (const day of (await readdir(path)).sort()) {
      if (!/^\d{8}$/.test(day)) continue;
      for (const vm of (await readdir(join(path, day))).sort()) out.set(`${day}/${vm}`, join(path, day, vm));
    }
  } else {
    const names = (await readdir(path)).filter((n) => (format === 'bitbrains' ? n.endsWith('.csv') : !n.includes('.') && n !== 'README'));
    // Natural order (User2 before User10) so that reports read in the order people expect.
    names.sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
    for (const n of names) out.set(format === 'bitbrains' ? n.replace(/\.csv$/, '') : n, join(path, n));
  }
  if (out.size === 0) throw new ValidationError('--dataset', `no ${format} files found in ${path}`);
  return out;
}

async function readBitbrainsSeries(id: string, file: string, signal?: AbortSignal): Promise<ResourceSeries> {
  const cpu: number[] = [];
  const mem: number[] = [];
  const dr: number[] = [];
  const dw: number[] = [];
  const ni: number[] = [];
  const no: number[] = [];
  let startMs = 0;
  let capacity = { cpuCores: 1, cpuMhz: 0, memoryMiB: 0 };
  for await (const r of readBitbrains(file, signal)) {
    if (cpu.length === 0) startMs = r.timeMs;
    // Some rows report usage % above 100 or a zero capacity; clamp so every VM is on one scale.
    cpu.push(clamp(r.cpuCapacityMhz > 0 ? (100 * r.cpuUsageMhz) / r.cpuCapacityMhz : r.cpuUsagePercent));
    mem.push(clamp(r.memoryCapacityKb > 0 ? (100 * r.memoryUsageKb) / r.memoryCapacityKb : 0));
    dr.push(r.diskReadKBps);
    dw.push(r.diskWriteKBps);
    ni.push(r.netInKBps);
    no.push(r.netOutKBps);
    capacity = { cpuCores: r.cpuCores, cpuMhz: r.cpuCapacityMhz, memoryMiB: r.memoryCapacityKb / 1024 };
  }
  return {
    subjectId: id,
    startMs,
    stepMs: resourceStepMs,
    cpuPercent: Float64Array.from(cpu),
    memoryPercent: Float64Array.from(mem),
    diskReadKBps: Float64Array.from(dr),
    diskWriteKBps: Float64Array.from(dw),
    networkInKBps: Float64Array.from(ni),
    networkOutKBps: Float64Array.from(no),
    capacity,
  };
}

async function readPlanetlabSeries(id: string, file: string, signal?: AbortSignal): Promise<ResourceSeries> {
  const cpu: number[] = [];
  for await (const s of readPlanetlab(file, signal)) cpu.push(s.cpuPercent);
  return { subjectId: id, startMs: planetlabDayStartMs(file), stepMs: planetlabStepMs, cpuPercent: Float64Array.from(cpu) };
}

/** The folder holding `machine_usage.csv`, or the file itself. */
async function readAlibabaSeries(path: string, signal?: AbortSignal): Promise<Map<string, ResourceSeries>> {
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new NotFoundError(`no dataset at ${path}`, { path });
  const file = info.isDirectory() ? join(path, 'machine_usage.csv') : path;
  if (!(await stat(file).catch(() => undefined))?.isFile()) throw new ValidationError('--dataset', `no machine_usage.csv in ${path}`);
  const samples: AlibabaMachineSample[] = [];
  for await (const s of readAlibabaMachines(file, signal)) samples.push(s);
  const out = new Map<string, ResourceSeries>();
  for (const m of resampleAlibabaMachines(samples, resourceStepMs)) {
    out.set(m.machineId, { subjectId: m.machineId, startMs: m.startMs, stepMs: m.stepMs, cpuPercent: m.cpuPercent, memoryPercent: m.memoryPercent });
  }
  if (out.size === 0) throw new ValidationError('--dataset', `no machine rows in ${file}`);
  return out;
}

function clamp(v: number): number {
  return Number.isFinite(v) ? Math.min(100, Math.max(0, v)) : 0;
}
