import { NotFoundError } from '../core/errors.js';

/**
 * Which packages run a service, on which ports, and the load to provision for when nothing more
 * is known. Services in a usage vector are inferred from predicted software and from the
 * listening ports seen in the subject's inbound flows.
 */
export interface ServiceSpec {
  service: string;
  package: string;
  ports: { port: number; protocol: 'tcp' | 'udp' }[];
  load: { requestsPerSecond?: number; connections?: number };
  concurrency: number;
  /**
   * The package is mostly used as a client (rsync): using it does not mean serving, so the
   * service is inferred only from its port seen listening.
   */
  clientFirst?: boolean;
  /** Other names a vector may give it: the one list, which the policy and the services module's tuners both go by (`serviceNamed`). */
  aliases?: readonly string[];
}

export const serviceCatalog: readonly ServiceSpec[] = [
  { service: 'nginx', package: 'nginx', ports: [{ port: 80, protocol: 'tcp' }, { port: 443, protocol: 'tcp' }], load: { requestsPerSecond: 50 }, concurrency: 64 },
  { service: 'apache2', package: 'apache2', ports: [{ port: 80, protocol: 'tcp' }, { port: 443, protocol: 'tcp' }], load: { requestsPerSecond: 50 }, concurrency: 32 },
  { service: 'postgresql', package: 'postgresql', aliases: ['postgres'], ports: [{ port: 5432, protocol: 'tcp' }], load: { connections: 20 }, concurrency: 20 },
  { service: 'mariadb', package: 'mariadb-server', aliases: ['mysql', 'mariadb-server'], ports: [{ port: 3306, protocol: 'tcp' }], load: { connections: 20 }, concurrency: 20 },
  { service: 'memcached', package: 'memcached', ports: [{ port: 11211, protocol: 'tcp' }], load: { connections: 50 }, concurrency: 50 },
  { service: 'redis-server', package: 'redis-server', aliases: ['redis'], ports: [{ port: 6379, protocol: 'tcp' }], load: { connections: 10 }, concurrency: 10 },
  { service: 'ssh', package: 'openssh-server', ports: [{ port: 22, protocol: 'tcp' }], load: { connections: 2 }, concurrency: 4 },
  { service: 'docker', package: 'docker.io', ports: [], load: {}, concurrency: 1 },
  { service: 'rsync', package: 'rsync', ports: [{ port: 873, protocol: 'tcp' }], load: { connections: 1 }, concurrency: 2, clientFirst: true },
  { service: 'bind9', package: 'bind9', ports: [{ port: 53, protocol: 'udp' }, { port: 53, protocol: 'tcp' }], load: { requestsPerSecond: 20 }, concurrency: 8 },
];

export function serviceForPackage(pkg: string): ServiceSpec | undefined {
  return serviceCatalog.find((s) => s.package === pkg && !s.clientFirst);
}

/** A service by the name a vector gives it, or one of its aliases. */
export function serviceNamed(name: string): ServiceSpec | undefined {
  return serviceCatalog.find((s) => s.service === name || s.aliases?.includes(name));
}

/** The entry of `service` (its own name): a services-module tuner names its entry, and one the catalogue lacks fails when it is loaded. */
export function catalogued(service: string): ServiceSpec {
  const s = serviceCatalog.find((x) => x.service === service);
  if (!s) throw new NotFoundError(`${service} is not in the service catalogue (src/predict/service-catalog.ts)`);
  return s;
}

export function serviceForPort(port: number): ServiceSpec | undefined {
  return serviceCatalog.find((s) => s.ports.some((p) => p.port === port));
}
