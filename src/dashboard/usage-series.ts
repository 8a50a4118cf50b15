import type { ResourceRollup } from '../store/store.js';
import type { OverAllocationView, UsageSeriesView } from './views.js';

/** Three 5-minute rollups per point: two weeks stay under 1,400 points, enough for a chart 1,280 px wide. */
const bucketSeconds = 15 * 60;
const mib = 1024 * 1024;

/** A client's rollups as the chart's series: CPU in cores (so it can be drawn against vCPUs), memory in MiB. */
export function usageSeries(rollups: readonly ResourceRollup[]): UsageSeriesView {
  const points = new Map<number, { cpu: number[]; cpuMax: number[]; mem: number[] }>();
  for (const r of rollups) {
    const t = Math.floor(r.bucketMs / 1000 / bucketSeconds) * bucketSeconds;
    const p = points.get(t) ?? { cpu: [], cpuMax: [], mem: [] };
    const cores = r.mean.cpuCores;
    if (cores !== undefined && r.mean.cpuPercent !== undefined) p.cpu.push((r.mean.cpuPercent / 100) * cores);
    if (cores !== undefined && r.max.cpuPercent !== undefined) p.cpuMax.push((r.max.cpuPercent / 100) * cores);
    if (r.mean.memoryBytes !== undefined) p.mem.push(r.mean.memoryBytes / mib);
    points.set(t, p);
  }
  const ts = [...points.keys()].sort((a, b) => a - b);
  const mean = (xs: number[]): number | null => (xs.length ? round(xs.reduce((a, b) => a + b, 0) / xs.length) : null);
  const max = (xs: number[]): number | null => (xs.length ? round(Math.max(...xs)) : null);
  return {
    t: ts,
    cpuCores: ts.map((t) => mean(points.get(t)!.cpu)),
    cpuCoresMax: ts.map((t) => max(points.get(t)!.cpuMax)),
    memoryMiB: ts.map((t) => mean(points.get(t)!.mem)),
    bucketSeconds,
  };
}

/** Runs of consecutive points where use (CPU: the bucket's max) went above the allocation. */
export function overAllocation(usage: UsageSeriesView, allocation: { cpuCores?: number | undefined; memoryMiB?: number | undefined }): OverAllocationView[] {
  const out: OverAllocationView[] = [];
  const scan = (resource: OverAllocationView['resource'], values: readonly (number | null)[], limit: number | undefined): void => {
    if (limit === undefined) return;
    let open: OverAllocationView | undefined;
    values.forEach((v, i) => {
      const t = usage.t[i]!;
      if (v !== null && v > limit) {
        if (open && open.toS === t) {
          open.toS = t + usage.bucketSeconds;
          open.peak = Math.max(open.peak, v);
        } else {
          open = { resource, fromS: t, toS: t + usage.bucketSeconds, peak: v };
          out.push(open);
        }
      }
    });
  };
  scan('cpu', usage.cpuCoresMax, allocation.cpuCores);
  scan('memory', usage.memoryMiB, allocation.memoryMiB);
  return out;
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
