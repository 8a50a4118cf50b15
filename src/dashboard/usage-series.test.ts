import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ResourceRollup } from '../store/store.js';
import { overAllocation, usageSeries } from './usage-series.js';

const bucket = 5 * 60_000;
const rollup = (i: number, cpuPercent: number, memoryMiB: number): ResourceRollup => ({
  bucketMs: Date.UTC(2026, 10, 20) + i * bucket,
  mean: { cpuCores: 4, cpuPercent, memoryBytes: memoryMiB * 2 ** 20 },
  max: { cpuCores: 4, cpuPercent, memoryBytes: memoryMiB * 2 ** 20 },
  samples: { cpuCores: 1, cpuPercent: 1, memoryBytes: 1 },
});

describe('the client page usage series', () => {
  test('CPU is drawn in cores (percent of the subject\'s cores), memory in MiB, three rollups a point', () => {
    const u = usageSeries([rollup(0, 50, 1000), rollup(1, 50, 1000), rollup(2, 50, 1000), rollup(3, 100, 3000)]);
    assert.equal(u.bucketSeconds, 900);
    assert.deepEqual(u.cpuCores, [2, 4]);
    assert.deepEqual(u.memoryMiB, [1000, 3000]);
  });

  test('periods above the allocation are runs of points, CPU by the bucket max, each with its peak', () => {
    // 2 cores for an hour, then 3.6 cores for 45 minutes, then 2 again, then 3.2 for 15 minutes; 3 vCPUs allocated.
    const cpu = [...Array(12).fill(50), ...Array(9).fill(90), ...Array(6).fill(50), ...Array(3).fill(80)] as number[];
    const u = usageSeries(cpu.map((c, i) => rollup(i, c, 1000)));
    const over = overAllocation(u, { cpuCores: 3, memoryMiB: 2048 });
    assert.deepEqual(
      over.map((o) => ({ resource: o.resource, minutes: (o.toS - o.fromS) / 60, peak: o.peak })),
      [
        { resource: 'cpu', minutes: 45, peak: 3.6 },
        { resource: 'cpu', minutes: 15, peak: 3.2 },
      ],
    );
    assert.deepEqual(overAllocation(u, { cpuCores: 4, memoryMiB: 512 }).map((o) => o.resource), ['memory'], 'memory above 512 MiB the whole time: one period');
    assert.deepEqual(overAllocation(u, {}), [], 'no allocation, nothing marked');
  });
});
