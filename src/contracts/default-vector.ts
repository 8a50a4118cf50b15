import { usageVectorSchemaVersion, type UsageVector } from './usage-vector.js';

/** `model.id` of the default vector: no model set exists for the client or its category. */
export const defaultModelId = 'default';

/** A small general-purpose machine (docs/prediction.md). */
export const defaultResources = { vcpus: 2, memoryMiB: 2048, diskGiB: 20 } as const;

/**
 * The one vector for a subject nothing is known about: a small general-purpose machine with no
 * software, services, data or ports added, and confidence 0 so that the pipeline and the user
 * can tell it is not a prediction. The caller chooses the dates: the trained predictor uses the
 * request's horizon, the category predictor fixed ones so that identical requests share one build.
 */
export function defaultVector(input: { subject: UsageVector['subject']; horizon: UsageVector['horizon']; generatedAt: string }): UsageVector {
  return {
    schemaVersion: usageVectorSchemaVersion,
    subject: input.subject,
    horizon: input.horizon,
    generatedAt: input.generatedAt,
    model: { id: defaultModelId, version: '1', components: [] },
    confidence: 0,
    resources: {
      vcpus: defaultResources.vcpus,
      memoryMiB: defaultResources.memoryMiB,
      diskGiB: defaultResources.diskGiB,
      expectedP95CpuPercent: 0,
      expectedP95MemoryMiB: 0,
      diskReadKBps: 0,
      diskWriteKBps: 0,
      networkInKBps: 0,
      networkOutKBps: 0,
    },
    software: [],
    services: [],
    datasets: [],
    network: { inbound: [], outbound: [], proxy: null },
  };
}
