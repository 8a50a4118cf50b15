import type { UsageVector } from '../../src/contracts/usage-vector.js';
import { parseUsageVector } from '../../src/usage-vector/validate.js';

/** A vector asking for one service (and its package), with these TCP ports opened inbound. */
export function oneServiceVector(input: { service: string; pkg: string; inbound: number[]; clientId?: string; vcpus?: number; memoryMiB?: number }): UsageVector {
  return parseUsageVector({
    schemaVersion: 'prescient.dev/usage-vector/v1',
    subject: { clientId: input.clientId ?? `svc-${input.service}`, category: 'services' },
    horizon: { startsAt: '2026-12-01T00:00:00Z', hours: 24 },
    generatedAt: '2026-11-30T00:00:00Z',
    model: { id: 'test', version: '1' },
    confidence: 0.9,
    resources: { vcpus: input.vcpus ?? 2, memoryMiB: input.memoryMiB ?? 2048, diskGiB: 4, expectedP95CpuPercent: 40, expectedP95MemoryMiB: 1000, diskReadKBps: 0, diskWriteKBps: 0, networkInKBps: 10, networkOutKBps: 10 },
    software: [{ name: input.pkg, probability: 0.9 }],
    services: [{ name: input.service, expectedLoad: { connections: 10 }, concurrency: 10 }],
    datasets: [],
    network: { inbound: input.inbound.map((port) => ({ port, protocol: 'tcp' })), outbound: [], proxy: null },
  });
}
