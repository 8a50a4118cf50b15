import { writeFile } from 'node:fs/promises';
import { paths } from '../../src/core/config.js';
import { usageVectorSchemaVersion, type UsageVector } from '../../src/contracts/usage-vector.js';
import { parseUsageVector } from '../../src/usage-vector/validate.js';
import { workflowConfigFiles } from '../../src/workflow/open-request-workflow.js';

/**
 * What the tests' and benchmarks' usage vectors say alike: the schema, a day from 2026-12-01
 * predicted the day before by a test model with confidence 0.9, and nothing asked for. Each
 * fixture gives what it is about (subject, resources, software, services, network).
 */
export const vectorDefaults = {
  schemaVersion: usageVectorSchemaVersion,
  horizon: { startsAt: '2026-12-01T00:00:00Z', hours: 24 },
  generatedAt: '2026-11-30T00:00:00Z',
  model: { id: 'test', version: '1' },
  confidence: 0.9,
  software: [],
  services: [],
  datasets: [],
  network: { inbound: [], outbound: [], proxy: null },
} as const;

/** A vector's JSON before validation (what a file such as category-vectors.json holds): the defaults with `fields`. */
export function vectorInput(fields: Record<string, unknown>): Record<string, unknown> {
  return { ...vectorDefaults, ...fields };
}

/** The same, validated: what the pipeline takes. */
export function testVector(fields: Record<string, unknown>): UsageVector {
  return parseUsageVector(vectorInput(fields));
}

/** A vector's network: these TCP ports open inbound, nothing outbound, no proxy. */
export function tcpInbound(ports: readonly number[]): UsageVector['network'] {
  return { inbound: ports.map((port) => ({ port, protocol: 'tcp' })), outbound: [], proxy: null };
}

/**
 * The pipeline issue's acceptance vector — nginx, PostgreSQL, ports 80 and 443, 4 vCPUs and
 * 8 GiB — with the datasets given and any top-level field replaced.
 */
export function webDbVector(datasets: { source: string; destination: string; sizeBytes: number }[] = [], extra: Record<string, unknown> = {}): UsageVector {
  return testVector({
    subject: { clientId: 'acme-1', category: 'web-db' },
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
    network: tcpInbound([80, 443]),
    ...extra,
  });
}

/** A small machine under light load: 2 vCPUs, 2 GiB of memory, 8 GiB of disk. */
export const smallResources = { vcpus: 2, memoryMiB: 2048, diskGiB: 8, expectedP95CpuPercent: 40, expectedP95MemoryMiB: 900, diskReadKBps: 10, diskWriteKBps: 10, networkInKBps: 10, networkOutKBps: 10 } as const;

/**
 * Writes the home's category vectors (the vector served for a category nothing was trained on):
 * each the defaults, generated on its horizon's first day, with its fields and the category as
 * its subject.
 */
export async function writeCategoryVectors(home: string, vectors: Record<string, Record<string, unknown>>): Promise<void> {
  const file = workflowConfigFiles(paths(home)).categoryVectors;
  await writeFile(file, JSON.stringify(Object.fromEntries(Object.entries(vectors).map(([category, fields]) => [category, vectorInput({ subject: { category }, generatedAt: '2026-12-01T00:00:00Z', ...fields })]))));
}
