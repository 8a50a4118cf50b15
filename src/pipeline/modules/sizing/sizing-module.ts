import { z } from 'zod';
import type { Change } from '../../change.js';
import { defineModule } from '../../define-module.js';
import { isExposed, serviceTuners, tunerNamed } from '../services/services-module.js';

export const sizingOptionsSchema = z
  .strictObject({
    reservedMemoryMiB: z.number().int().nonnegative().default(256).describe('kept for the system before memory is shared among databases and caches'),
  })
  .default({ reservedMemoryMiB: 256 });

export type SizingOptions = z.infer<typeof sizingOptionsSchema>;

/**
 * Everything whose Changes depend on the machine's size, in the top layer because sizes are
 * re-predicted daily: the services the image enables, tuned for the allocated vCPUs and memory
 * (memory-hungry ones — databases, caches — share what is left after a system reserve); the
 * disk and root filesystem grown to the VM spec's disk; the swap file of its swap size. A
 * sizes-only re-prediction rebuilds this one small layer and nothing below it.
 */
export const sizingModule = defineModule<SizingOptions>({
  id: 'sizing',
  version: 2,
  description: 'tunes the enabled services for the vCPUs and memory, grows the disk, creates the swap file',
  optionsSchema: sizingOptionsSchema,
  plan({ vector, facts, spec, options }) {
    const enabled = new Set(facts.services);
    const tuned: { tuner: (typeof serviceTuners)[number]; service: (typeof vector.services)[number] }[] = [];
    for (const service of vector.services) {
      const tuner = tunerNamed(service.name);
      if (tuner && enabled.has(tuner.unit) && !tuned.some((t) => t.tuner === tuner)) tuned.push({ tuner, service });
    }
    const hungry = tuned.filter((t) => t.tuner.memoryHungry).length;
    const memoryShareMiB = Math.max(64, (spec.memoryMiB - options.reservedMemoryMiB) / Math.max(1, hungry));
    const changes: Change[] = tuned.flatMap(({ tuner, service }) => tuner.tune({ service, spec, facts, memoryShareMiB, exposed: isExposed(tuner, vector) }));
    // Each enabled service's own config check, once its last configuration layer is written.
    for (const t of serviceTuners) if (enabled.has(t.unit)) changes.push(t.check(facts));
    const currentGiB = facts.virtualSizeBytes / 1024 ** 3;
    if (spec.diskGiB > currentGiB) changes.push({ kind: 'resize-disk', sizeGiB: spec.diskGiB });
    if (spec.swapMiB > 0) changes.push({ kind: 'create-swapfile', path: '/swapfile', sizeMiB: spec.swapMiB });
    return { changes };
  },
});
