import { z } from 'zod';
import {
  datasetSchema,
  hostPattern,
  serviceSchema,
  softwareSchema,
  usageVectorSchemaVersion,
  type UsageVector,
} from '../contracts/usage-vector.js';
import { serviceNamed } from '../predict/service-catalog.js';
import { parseUsageVector, usageVectorError } from './validate.js';

/**
 * A usage vector written by hand: every field a model fills (subject, horizon, model, confidence,
 * expected load, probabilities) has a default here (a catalogued service's from the service catalogue), beside the schema it completes, so a person
 * writes only what they know (packages, services, ports, the allocation). The result goes
 * through the same strict UsageVector schema the models' vectors do: a hand-written vector and a
 * predicted one are the same thing downstream. Unknown keys are still refused.
 */
export const handVectorDefaults = {
  subject: { category: 'hand-written' },
  horizonHours: 24 * 30,
  model: { id: 'hand-written', version: '1' },
  confidence: 1,
  resources: { vcpus: 1, memoryMiB: 1024, diskGiB: 10 },
} as const;

const port = z.number().int().min(1).max(65535);
const protocol = z.enum(['tcp', 'udp']).default('tcp');

const handResourcesSchema = z.strictObject({
  vcpus: z.number().int().min(1).max(1024).default(handVectorDefaults.resources.vcpus),
  memoryMiB: z.number().int().min(64).default(handVectorDefaults.resources.memoryMiB),
  diskGiB: z.number().positive().default(handVectorDefaults.resources.diskGiB),
  // No expected load beyond the allocation: the resources module then sizes exactly what was asked.
  expectedP95CpuPercent: z.number().min(0).max(100).default(0),
  expectedP95MemoryMiB: z.number().nonnegative().default(0),
  diskReadKBps: z.number().nonnegative().default(0),
  diskWriteKBps: z.number().nonnegative().default(0),
  networkInKBps: z.number().nonnegative().default(0),
  networkOutKBps: z.number().nonnegative().default(0),
});

export const handVectorSchema = z.strictObject({
  schemaVersion: z.literal(usageVectorSchemaVersion).default(usageVectorSchemaVersion),
  subject: z.unknown().optional(),
  horizon: z.unknown().optional(),
  generatedAt: z.string().optional(),
  model: z.unknown().optional(),
  confidence: z.unknown().optional(),
  resources: handResourcesSchema.default(() => handResourcesSchema.parse({})),
  software: z
    // the contract's package entry (inImageSet included), with a probability of 1 when not given
    .array(softwareSchema.extend({ probability: z.number().min(0).max(1).default(1) }))
    .default([]),
  services: z
    // the contract's service entry; load and concurrency come from the catalogue when not given
    .array(serviceSchema.extend({ expectedLoad: serviceSchema.shape.expectedLoad.optional(), concurrency: serviceSchema.shape.concurrency.optional() }))
    .default([]),
  datasets: z.array(datasetSchema).default([]),
  network: z
    .strictObject({
      inbound: z.array(z.strictObject({ port, protocol })).default([]),
      outbound: z.array(z.strictObject({ host: z.string().max(253).regex(hostPattern), port: port.optional(), protocol: z.enum(['tcp', 'udp']).optional() })).default([]),
      proxy: z.unknown().default(null),
    })
    .default({ inbound: [], outbound: [], proxy: null }),
});

export type HandVectorInput = z.input<typeof handVectorSchema>;

/**
 * A complete, validated UsageVector from a hand-written (possibly minimal) one. Fields given are
 * kept as they are, so a full vector from a model comes out unchanged; errors name the field.
 */
export function completeUsageVector(input: unknown, now: Date = new Date()): UsageVector {
  const parsed = handVectorSchema.safeParse(input);
  if (!parsed.success) throw usageVectorError(parsed.error);
  const h = parsed.data;
  const at = new Date(Math.floor(now.getTime() / 1000) * 1000).toISOString();
  return parseUsageVector({
    ...h,
    subject: h.subject ?? handVectorDefaults.subject,
    horizon: h.horizon ?? { startsAt: at, hours: handVectorDefaults.horizonHours },
    generatedAt: h.generatedAt ?? at,
    model: h.model ?? handVectorDefaults.model,
    confidence: h.confidence ?? handVectorDefaults.confidence,
    // A service the catalogue knows is named and provisioned as prediction would (redis → redis-server, its load and concurrency).
    services: h.services.map((s) => {
      const known = serviceNamed(s.name);
      return { ...s, name: known?.service ?? s.name, expectedLoad: s.expectedLoad ?? known?.load ?? {}, concurrency: s.concurrency ?? known?.concurrency ?? 1 };
    }),
  });
}
