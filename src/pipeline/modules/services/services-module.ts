import { z } from 'zod';
import type { Change } from '../../change.js';
import { defineModule } from '../../define-module.js';
import { nginxTuner } from './nginx.js';
import { postgresqlTuner } from './postgresql.js';
import { redisTuner } from './redis.js';
import type { ServiceTuner } from './tuner.js';

/** Adding a tuned service is one file beside this one and one entry here. */
export const serviceTuners: readonly ServiceTuner[] = [nginxTuner, postgresqlTuner, redisTuner];

export const servicesOptionsSchema = z
  .strictObject({
    threshold: z.number().min(0).max(1).default(0.5).describe('prepare services predicted at least this likely'),
    reservedMemoryMiB: z.number().int().nonnegative().default(256).describe('kept for the system before memory is shared among databases and caches'),
  })
  .default({ threshold: 0.5, reservedMemoryMiB: 256 });

export type ServicesOptions = z.infer<typeof servicesOptionsSchema>;

/**
 * Service configuration: each expected service is installed (unless an earlier module already
 * installs it), enabled, and tuned for the predicted load and the allocated machine. Memory-
 * hungry services (databases, caches) share the memory left after a system reserve.
 */
export const servicesModule = defineModule<ServicesOptions>({
  id: 'services',
  version: 1,
  description: 'installs, enables and tunes the expected services (nginx, PostgreSQL, Redis)',
  optionsSchema: servicesOptionsSchema,
  plan({ vector, facts, spec, options }) {
    const notes: string[] = [];
    const chosen: { tuner: ServiceTuner; service: (typeof vector.services)[number] }[] = [];
    for (const service of vector.services) {
      if ((service.probability ?? 1) < options.threshold) {
        notes.push(`${service.name}: below the ${options.threshold} threshold`);
        continue;
      }
      const tuner = serviceTuners.find((t) => t.names.includes(service.name));
      if (!tuner) {
        notes.push(`${service.name}: no tuner for this service; nothing prepared`);
        continue;
      }
      if (!chosen.some((c) => c.tuner === tuner)) chosen.push({ tuner, service });
    }
    const hungry = chosen.filter((c) => c.tuner.memoryHungry).length;
    const memoryShareMiB = Math.max(64, (spec.memoryMiB - options.reservedMemoryMiB) / Math.max(1, hungry));
    const installed = new Set(facts.packages.map((p) => p.name));
    const packages = chosen.map((c) => c.tuner.package(facts)).filter((p) => !installed.has(p));
    const changes: Change[] = packages.length ? [{ kind: 'install-packages', packages: [...new Set(packages)].sort() }] : [];
    for (const { tuner, service } of chosen) {
      changes.push(...tuner.tune({ service, spec, facts, memoryShareMiB }));
      changes.push({ kind: 'enable-service', unit: tuner.unit });
    }
    return { changes, notes };
  },
});
