import { z } from 'zod';
import type { Change } from '../../change.js';
import { defineModule } from '../../define-module.js';
import type { UsageVector } from '../../../usage-vector/schema.js';
import { nginxTuner } from './nginx.js';
import { postgresqlTuner } from './postgresql.js';
import { redisTuner } from './redis.js';
import type { ServiceTuner } from './tuner.js';

/** Adding a tuned service is one file beside this one and one entry here. */
export const serviceTuners: readonly ServiceTuner[] = [nginxTuner, postgresqlTuner, redisTuner];

export const servicesOptionsSchema = z
  .strictObject({
    threshold: z.number().min(0).max(1).default(0.5).describe('prepare services predicted at least this likely'),
  })
  .default({ threshold: 0.5 });

export type ServicesOptions = z.infer<typeof servicesOptionsSchema>;

type VectorService = UsageVector['services'][number];

/** The expected services this pipeline prepares: likely enough, and with a tuner (one per tuner). */
export function chooseServices(vector: UsageVector, threshold: number): { chosen: { tuner: ServiceTuner; service: VectorService }[]; notes: string[] } {
  const notes: string[] = [];
  const chosen: { tuner: ServiceTuner; service: VectorService }[] = [];
  for (const service of vector.services) {
    if ((service.probability ?? 1) < threshold) {
      notes.push(`${service.name}: below the ${threshold} threshold`);
      continue;
    }
    const tuner = serviceTuners.find((t) => t.names.includes(service.name));
    if (!tuner) {
      notes.push(`${service.name}: no tuner for this service; nothing prepared`);
      continue;
    }
    if (!chosen.some((c) => c.tuner === tuner)) chosen.push({ tuner, service });
  }
  return { chosen, notes };
}

/**
 * Service configuration: each expected service is enabled (and installed, unless an earlier
 * module already installs it: the packages layer does, from the `packages` hook). What depends
 * on the machine's size — the tuning for its vCPUs and memory — is the sizing module's, at the
 * top of the stack, so a re-predicted size does not rebuild this layer or any above it.
 */
export const servicesModule = defineModule<ServicesOptions>({
  id: 'services',
  version: 2,
  description: 'installs and enables the expected services (nginx, PostgreSQL, Redis); sizing tunes them',
  optionsSchema: servicesOptionsSchema,
  packages: ({ vector, facts, options }) => chooseServices(vector, options.threshold).chosen.map((c) => c.tuner.package(facts)),
  plan({ vector, facts, options }) {
    const { chosen, notes } = chooseServices(vector, options.threshold);
    const installed = new Set(facts.packages.map((p) => p.name));
    const packages = chosen.map((c) => c.tuner.package(facts)).filter((p) => !installed.has(p));
    const changes: Change[] = packages.length ? [{ kind: 'install-packages', packages: [...new Set(packages)].sort() }] : [];
    for (const { tuner } of chosen) changes.push({ kind: 'enable-service', unit: tuner.unit });
    return { changes, notes };
  },
});
