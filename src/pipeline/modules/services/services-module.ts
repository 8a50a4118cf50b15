import { z } from 'zod';
import type { ImageFacts } from '../../../image/facts.js';
import type { UsageVector } from '../../../contracts/usage-vector.js';
import type { Change } from '../../change.js';
import { serviceNamed } from '../../../predict/service-catalog.js';
import { defineModule } from '../../define-module.js';
import { inclusionThresholdSchema, meetsThreshold } from '../inclusion-threshold.js';
import { mariadbTuner } from './mariadb.js';
import { memcachedTuner } from './memcached.js';
import { nginxTuner } from './nginx.js';
import { postgresqlTuner } from './postgresql.js';
import { redisTuner } from './redis.js';
import type { ServiceTuner } from './tuner.js';

/** Adding a tuned service is one file beside this one and one entry here (and its entry in the service catalogue). */
export const serviceTuners: readonly ServiceTuner[] = [nginxTuner, postgresqlTuner, redisTuner, mariadbTuner, memcachedTuner];

/** The tuner of the service a vector names (by the catalogue's names, aliases included), if any. */
export function tunerNamed(name: string): ServiceTuner | undefined {
  const spec = serviceNamed(name);
  return spec && serviceTuners.find((t) => t.service === spec);
}

/**
 * What every delivered machine runs besides its predicted services: the guest agent the libvirt
 * domain's channel talks to, and sudo for the seed's user (root is locked).
 */
export const machinePackages = ['qemu-guest-agent', 'sudo'] as const;

/** Ports something answers on in an image with these packages: SSH and the tuned services. */
export function answeredTcpPorts(facts: Pick<ImageFacts, 'packages'>): number[] {
  const installed = new Set(facts.packages.map((p) => p.name));
  const ports = new Set<number>();
  if (installed.has('openssh-server')) ports.add(22);
  for (const t of serviceTuners) if (installed.has(t.package(facts as ImageFacts))) for (const p of t.ports) ports.add(p);
  return [...ports].sort((a, b) => a - b);
}

/** Its ports are opened inbound: it listens on every interface (else on loopback only). */
export function isExposed(tuner: ServiceTuner, vector: Pick<UsageVector, 'network'>): boolean {
  return vector.network.inbound.some((p) => p.protocol === 'tcp' && tuner.ports.includes(p.port));
}

export const servicesOptionsSchema = z
  .strictObject({
    threshold: inclusionThresholdSchema('prepare services predicted at least this likely'),
  })
  // Parsed through the fields: each default is its field's.
  .prefault({});

export type ServicesOptions = z.infer<typeof servicesOptionsSchema>;

type VectorService = UsageVector['services'][number];

/**
 * The services this pipeline prepares: the expected ones likely enough and with a tuner (one
 * per tuner), and any tuned package an earlier module installs (the software predicted it), so
 * nothing the firewall opens answers with Debian's defaults.
 */
export function chooseServices(vector: UsageVector, threshold: number, facts?: Pick<ImageFacts, 'packages'>): { chosen: { tuner: ServiceTuner; service: VectorService }[]; notes: string[] } {
  const notes: string[] = [];
  const chosen: { tuner: ServiceTuner; service: VectorService }[] = [];
  for (const service of vector.services) {
    if (!meetsThreshold(service.probability, threshold)) {
      notes.push(`${service.name}: below the ${threshold} threshold`);
      continue;
    }
    const tuner = tunerNamed(service.name);
    if (!tuner) {
      notes.push(`${service.name}: no tuner for this service; nothing prepared`);
      continue;
    }
    if (!chosen.some((c) => c.tuner === tuner)) chosen.push({ tuner, service });
  }
  const installed = new Set((facts?.packages ?? []).map((p) => p.name));
  for (const tuner of serviceTuners) {
    if (chosen.some((c) => c.tuner === tuner) || !installed.has(tuner.package(facts as ImageFacts))) continue;
    notes.push(`${tuner.name}: its package is installed, so it is prepared too (for the catalogue's default load)`);
    chosen.push({ tuner, service: { name: tuner.name, expectedLoad: {}, concurrency: 16 } });
  }
  return { chosen, notes };
}

/**
 * Service configuration: each expected service is enabled (and installed, unless an earlier
 * module already installs it: the packages layer does, from the `packages` hook), listening on
 * every interface when its port is opened inbound and on loopback otherwise, and protected
 * where the software supports it (the per-machine password arrives with the seed; this layer
 * carries only the units that apply it). What depends on the machine's size — the tuning for
 * its vCPUs and memory, and each service's own config check after it — is the sizing module's,
 * at the top of the stack, so a re-predicted size does not rebuild this layer or any above it.
 */
export const servicesModule = defineModule<ServicesOptions>({
  id: 'services',
  version: 3,
  description: 'installs, enables and protects the expected services (nginx, PostgreSQL, Redis, MariaDB, memcached), listening where the vector opens them; sizing tunes them',
  optionsSchema: servicesOptionsSchema,
  packages: ({ vector, facts, options }) => [...machinePackages, ...chooseServices(vector, options.threshold, facts).chosen.map((c) => c.tuner.package(facts))],
  plan({ vector, facts, options }) {
    const { chosen, notes } = chooseServices(vector, options.threshold, facts);
    const installed = new Set(facts.packages.map((p) => p.name));
    const packages = [...machinePackages, ...chosen.map((c) => c.tuner.package(facts))].filter((p) => !installed.has(p));
    const changes: Change[] = packages.length ? [{ kind: 'install-packages', packages: [...new Set(packages)].sort() }] : [];
    for (const { tuner, service } of chosen) {
      changes.push(...(tuner.configure?.({ service, facts, exposed: isExposed(tuner, vector) }) ?? []));
      changes.push({ kind: 'enable-service', unit: tuner.unit });
    }
    return { changes, notes };
  },
});
