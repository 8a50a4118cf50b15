import type { UsageVector } from '../../src/contracts/usage-vector.js';
import { parseUsageVector } from '../../src/usage-vector/validate.js';

/**
 * The pipeline issue's acceptance vector — nginx, PostgreSQL, ports 80 and 443, 4 vCPUs and
 * 8 GiB — with the datasets given and any top-level field replaced.
 */
export function webDbVector(datasets: { source: string; destination: string; sizeBytes: number }[] = [], extra: Record<string, unknown> = {}): UsageVector {
  return parseUsageVector({
    schemaVersion: 'prescient.dev/usage-vector/v1',
    subject: { clientId: 'acme-1', category: 'web-db' },
    horizon: { startsAt: '2026-12-01T00:00:00Z', hours: 24 },
    generatedAt: '2026-11-30T00:00:00Z',
    model: { id: 'test', version: '1' },
    confidence: 0.9,
    resources: { vcpus: 4, memoryMiB: 8192, diskGiB: 8, expectedP95CpuPercent: 55, expectedP95MemoryMiB: 5000, diskReadKBps: 100, diskWriteKBps: 100, networkInKBps: 500, networkOutKBps: 900 },
    software: [
      { name: 'nginx', probability: 0.95 },
      { name: 'postgresql', probability: 0.9 },
    ],
    services: [
      { name: 'nginx', expectedLoad: { requestsPerSecond: 150 }, concurrency: 64 },
      { name: 'postgresql', expectedLoad: { connections: 20 }, concurrency: 20 },
    ],
    datasets: datasets.map((d) => ({ ...d, probability: 0.9 })),
    network: { inbound: [{ port: 80, protocol: 'tcp' }, { port: 443, protocol: 'tcp' }], outbound: [], proxy: null },
    ...extra,
  });
}
