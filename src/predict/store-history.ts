import type { TelemetryStore } from '../store/store.js';
import { installedPackagePrefix } from '../contracts/telemetry-event.js';
import { resourceStepMs, type DataAccess, type GuestUse, type HistorySource, type LaunchEvent, type NetworkFlow, type ResourceSeries, type Subject } from './history.js';

/** Subjects without a recorded category are trained and predicted under this one. */
export const uncategorised = 'uncategorised';

/**
 * Prediction's view of the telemetry store: subjects with their latest category, 5-minute
 * rollups as continuous columns (a missing bucket repeats the one before, so models see a
 * regular series), launches and commands in order, and flows and data accesses as sets.
 */
export function storeHistory(store: TelemetryStore, name = 'store'): HistorySource {
  return {
    name,
    async subjects(): Promise<Subject[]> {
      return (await store.listSubjects()).map((s) => ({ id: s.subject, category: s.category ?? uncategorised }));
    },

    async resourceSeries(subjectId): Promise<ResourceSeries | undefined> {
      const rollups = await store.rollups(subjectId);
      if (rollups.length === 0 || !rollups.some((r) => r.mean.cpuPercent !== undefined)) return undefined;
      const startMs = rollups[0]!.bucketMs;
      const steps = Math.floor((rollups.at(-1)!.bucketMs - startMs) / resourceStepMs) + 1;
      const column = (pick: (r: (typeof rollups)[number]) => number | undefined): Float64Array | undefined => {
        if (!rollups.some((r) => pick(r) !== undefined)) return undefined;
        const out = new Float64Array(steps);
        let i = 0;
        let last = 0;
        for (let step = 0; step < steps; step++) {
          const bucket = startMs + step * resourceStepMs;
          while (i < rollups.length && rollups[i]!.bucketMs < bucket) i++;
          const v = i < rollups.length && rollups[i]!.bucketMs === bucket ? pick(rollups[i]!) : undefined;
          if (v !== undefined && Number.isFinite(v)) last = v;
          out[step] = last;
        }
        return out;
      };
      const memoryTotal = Math.max(0, ...rollups.map((r) => r.max.memoryTotalBytes ?? 0));
      const cores = [...rollups].reverse().find((r) => r.mean.cpuCores !== undefined)?.mean.cpuCores;
      const kb = (v: number | undefined): number | undefined => (v === undefined ? undefined : v / 1024);
      const series: ResourceSeries = { subjectId, startMs, stepMs: resourceStepMs, cpuPercent: column((r) => r.mean.cpuPercent)! };
      const memory = memoryTotal > 0 ? column((r) => (r.mean.memoryBytes === undefined ? undefined : (r.mean.memoryBytes / memoryTotal) * 100)) : undefined;
      const diskRead = column((r) => kb(r.mean.diskReadBps));
      const diskWrite = column((r) => kb(r.mean.diskWriteBps));
      const netIn = column((r) => kb(r.mean.netInBps));
      const netOut = column((r) => kb(r.mean.netOutBps));
      if (memory) series.memoryPercent = memory;
      if (diskRead) series.diskReadKBps = diskRead;
      if (diskWrite) series.diskWriteKBps = diskWrite;
      if (netIn) series.networkInKBps = netIn;
      if (netOut) series.networkOutKBps = netOut;
      if (cores !== undefined || memoryTotal > 0) series.capacity = { cpuCores: cores ?? 1, cpuMhz: 0, memoryMiB: memoryTotal / 1024 ** 2 };
      return series;
    },

    async launches(subjectId): Promise<LaunchEvent[]> {
      // Launches record the executable's path; prediction works with program names.
      return (await store.sequence(subjectId, { kinds: ['launch', 'command'] })).map((s) => ({ program: s.name.slice(s.name.lastIndexOf('/') + 1), timeMs: s.time }));
    },

    async networkFlows(subjectId): Promise<NetworkFlow[]> {
      return (await store.flows(subjectId))
        // A connection refused for want of a listener is no sign of a service the client runs.
        .filter((f) => (f.protocol === 'tcp' || f.protocol === 'udp') && f.outcome !== 'refused')
        .map((f) => ({
          direction: f.direction === 'in' ? 'inbound' : 'outbound',
          port: f.port,
          protocol: f.protocol as 'tcp' | 'udp',
          ...(f.direction === 'out' && f.remote ? { host: f.remote } : {}),
          count: f.flows,
        }));
    },

    async dataAccesses(subjectId): Promise<DataAccess[]> {
      // Observations only: what an event names is not a source to copy (see DataAccess).
      return (await store.dataAccesses(subjectId)).filter((d) => !d.target.startsWith(installedPackagePrefix)).map((d) => ({ target: d.target, sizeBytes: d.accesses > 0 ? Math.round(d.bytes / d.accesses) : d.bytes, count: d.accesses }));
    },

    async guestUse(subjectId): Promise<GuestUse | undefined> {
      const spans = await store.guestImages(subjectId);
      if (spans.length === 0) return undefined;
      const a = await store.guestActivity(subjectId);
      return {
        observedMs: spans.reduce((ms, s) => ms + (s.lastMs - s.firstMs), 0),
        installedPackages: [...new Set(a.accesses.filter((x) => x.target.startsWith(installedPackagePrefix)).map((x) => x.target.slice(installedPackagePrefix.length)))],
        launchedPrograms: [...new Set(a.programs.filter((p) => p.outcome === null).map((p) => p.name.slice(p.name.lastIndexOf('/') + 1)))],
        busyPorts: [...new Set(a.flows.filter((f) => f.direction === 'in' && f.outcome === null).map((f) => f.port))],
      };
    },
  };
}
