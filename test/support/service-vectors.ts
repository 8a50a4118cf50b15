import type { UsageVector } from '../../src/contracts/usage-vector.js';
import { tcpInbound, testVector } from './vectors.js';

/** A vector asking for one service (and its package), with these TCP ports opened inbound. */
export function oneServiceVector(input: { service: string; pkg: string; inbound: number[]; clientId?: string; vcpus?: number; memoryMiB?: number }): UsageVector {
  return testVector({
    subject: { clientId: input.clientId ?? `svc-${input.service}`, category: 'services' },
    resources: { vcpus: input.vcpus ?? 2, memoryMiB: input.memoryMiB ?? 2048, diskGiB: 4, expectedP95CpuPercent: 40, expectedP95MemoryMiB: 1000, diskReadKBps: 0, diskWriteKBps: 0, networkInKBps: 10, networkOutKBps: 10 },
    software: [{ name: input.pkg, probability: 0.9 }],
    services: [{ name: input.service, expectedLoad: { connections: 10 }, concurrency: 10 }],
    network: tcpInbound(input.inbound),
  });
}
