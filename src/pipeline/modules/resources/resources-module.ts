import { z } from 'zod';
import type { Change } from '../../change.js';
import { defineModule } from '../../define-module.js';

/**
 * Resource allocation: vCPUs and memory from the predicted peak plus headroom, never below
 * what the vector asks for; the disk size for the predicted need (never shrunk); swap sized
 * to the memory by a simple, configurable rule. Only the VM spec (metadata) is set here, so no
 * layer's key holds the sizes; the sizing module, last, fits the disk and swap to them.
 */
export const resourcesOptionsSchema = z
  .strictObject({
    cpuHeadroom: z.number().min(0).max(4).default(0.25).describe('fraction added to the predicted p95 CPU'),
    memoryHeadroom: z.number().min(0).max(4).default(0.25),
    diskHeadroom: z.number().min(0).max(4).default(0.2).describe('fraction of free space kept above the used size'),
    memoryStepMiB: z.number().int().positive().default(256).describe('memory is rounded up to a multiple of this'),
    swap: z.enum(['none', 'half-memory', 'match-memory']).default('half-memory'),
    maxSwapMiB: z.number().int().nonnegative().default(4096),
  })
  .default({ cpuHeadroom: 0.25, memoryHeadroom: 0.25, diskHeadroom: 0.2, memoryStepMiB: 256, swap: 'half-memory', maxSwapMiB: 4096 });

export type ResourcesOptions = z.infer<typeof resourcesOptionsSchema>;

export const resourcesModule = defineModule<ResourcesOptions>({
  id: 'resources',
  version: 2,
  description: 'vCPUs, memory, disk and swap sizes (VM spec only) from the predicted peak plus headroom',
  optionsSchema: resourcesOptionsSchema,
  plan({ vector, facts, options }) {
    const r = vector.resources;
    const peakCores = (r.vcpus * r.expectedP95CpuPercent) / 100;
    const vcpus = Math.max(r.vcpus, Math.ceil(peakCores * (1 + options.cpuHeadroom)));
    const step = options.memoryStepMiB;
    const memoryMiB = Math.max(r.memoryMiB, Math.ceil((r.expectedP95MemoryMiB * (1 + options.memoryHeadroom)) / step) * step);
    const usedGiB = facts.rootFilesystem.usedBytes / 1024 ** 3;
    const currentGiB = facts.virtualSizeBytes / 1024 ** 3;
    const neededGiB = Math.ceil(Math.max(r.diskGiB, usedGiB * (1 + options.diskHeadroom)));
    const swapMiB =
      options.swap === 'none' ? 0 : Math.min(options.maxSwapMiB, options.swap === 'match-memory' ? memoryMiB : Math.ceil(memoryMiB / 2 / step) * step);
    const diskGiB = Math.max(neededGiB, currentGiB);
    const changes: Change[] = [{ kind: 'set-vm-spec', fields: { vcpus, memoryMiB, diskGiB, swapMiB } }];
    const notes = [`peak ${peakCores.toFixed(2)} cores, p95 memory ${r.expectedP95MemoryMiB} MiB → ${vcpus} vCPUs, ${memoryMiB} MiB`];
    if (neededGiB <= currentGiB) notes.push(`disk stays at ${currentGiB} GiB (the vector needs ${neededGiB} GiB)`);
    return { changes, notes };
  },
});
