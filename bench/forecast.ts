/**
 * Pooled forecaster benchmark: the time to fit it on the Bitbrains folder (all 100 VMs' training
 * parts, the first 80 % of each series; next hour and next day) for every resource of the usage
 * vector — CPU and memory in percent of capacity, disk read/write and network in/out in KB/s —
 * and the latency of the resource part of one usage vector (its twelve forecasts: six resources
 * × two horizons, from a VM's own history). Targets: fit ≤ 5 minutes, one vector ≤ 50 ms p99.
 *
 *   bash scripts/bench forecast            (needs ../shared/datasets; BENCH_RUNS=3 by default)
 *
 * CPU time of the process is printed beside wall time: the two cores are shared, and wall time
 * alone says more about the neighbours than about the fit.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { datasetHistory } from '../src/predict/dataset-history.js';
import { splitSeries } from '../src/predict/evaluate-resources.js';
import { createPooledForecaster, type PooledForecaster } from '../src/predict/forecast/pooled-forecaster.js';
import type { ResourceSeries } from '../src/predict/history.js';
import { datasetsDir } from '../test/support/datasets.js';

const datasets = datasetsDir;
const folder = join(datasets, 'bitbrains-rnd-2013-7');
if (!existsSync(folder)) {
  console.log(`skipped: needs ${folder}`);
  process.exit(0);
}
const runs = Math.max(1, Number(process.env.BENCH_RUNS ?? 3) || 3);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const quantile = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * q))]!;
const cpuSeconds = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

const keys = [
  ['cpuPercent', 'percent'],
  ['memoryPercent', 'percent'],
  ['diskReadKBps', 'rate'],
  ['diskWriteKBps', 'rate'],
  ['networkInKBps', 'rate'],
  ['networkOutKBps', 'rate'],
] as const;
const horizons = [12, 288];

const history = datasetHistory({ path: folder, format: 'bitbrains' });
const all: ResourceSeries[] = [];
for (const s of await history.subjects()) {
  const r = await history.resourceSeries(s.id);
  if (r) all.push(r);
}
console.log(`Bitbrains: ${all.length} VMs, ${keys.length} resources, horizons ${horizons.join(' and ')} steps, fitted on the first 80 % of each series; ${runs} run(s)`);

const walls: number[] = [];
const cpus: number[] = [];
const perKey = new Map<string, number[]>();
let models = new Map<string, PooledForecaster>();
for (let run = 0; run < runs; run++) {
  const w0 = performance.now();
  const c0 = cpuSeconds();
  const fitted = new Map<string, PooledForecaster>();
  for (const [key, unit] of keys) {
    const t = performance.now();
    const m = createPooledForecaster({ unit, horizons });
    await m.fit(all.map((s) => s[key]).filter((v): v is Float64Array => v !== undefined && v.length > 0).map((v) => splitSeries(v, 0.2).train));
    fitted.set(key, m);
    perKey.set(key, [...(perKey.get(key) ?? []), (performance.now() - t) / 1000]);
  }
  walls.push((performance.now() - w0) / 1000);
  cpus.push(cpuSeconds() - c0);
  console.log(`  run ${run + 1}: ${walls.at(-1)!.toFixed(1)} s wall, ${cpus.at(-1)!.toFixed(1)} s CPU`);
  models = fitted;
}
console.log(`fit, all six resources: median ${median(walls).toFixed(1)} s wall, ${median(cpus).toFixed(1)} s CPU (runs: ${walls.map((w) => w.toFixed(1)).join(', ')} s; target ≤ 300 s)`);
for (const [key] of keys) console.log(`  ${key.padEnd(15)} ${median(perKey.get(key)!).toFixed(1)} s`);

// One vector's resource forecasts: every resource at both horizons, at the end of a VM's history.
const lat: number[] = [];
for (let rep = 0; rep < 5; rep++) {
  for (const s of all) {
    const t = performance.now();
    for (const [key] of keys) {
      const v = s[key];
      if (!v) continue;
      for (const horizon of horizons) models.get(key)!.predict({ series: v, origins: [v.length], horizon });
    }
    lat.push(performance.now() - t);
  }
}
console.log(`one usage vector's resource forecasts (6 resources × 2 horizons, ${lat.length} vectors): median ${median(lat).toFixed(2)} ms, p99 ${quantile(lat, 0.99).toFixed(2)} ms (target ≤ 50 ms)`);
