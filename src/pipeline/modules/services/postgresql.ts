import type { ImageFacts } from '../../../image/facts.js';
import type { ServiceTuner } from './tuner.js';
import { header } from './tuner.js';

/** The PostgreSQL major version each Debian release ships. */
const postgresByDebian: Record<string, string> = { '11': '13', '12': '15', '13': '17' };

export function postgresVersion(facts: ImageFacts): string {
  const installed = facts.packages.find((p) => /^postgresql-\d+$/.test(p.name));
  if (installed) return installed.name.slice('postgresql-'.length);
  return postgresByDebian[facts.os.versionId ?? ''] ?? '15';
}

function kb(mib: number): string {
  return `${Math.max(64, Math.floor(mib * 1024))}kB`;
}

/**
 * PostgreSQL in the spirit of pgtune's "web application" profile, from the memory this service
 * gets and the predicted connections; written to conf.d, which Debian's postgresql.conf includes.
 */
export const postgresqlTuner: ServiceTuner = {
  names: ['postgresql', 'postgres'],
  package: () => 'postgresql',
  unit: 'postgresql.service',
  memoryHungry: true,
  tune({ service, spec, facts, memoryShareMiB }) {
    const connections = service.expectedLoad.connections ?? service.concurrency;
    const maxConnections = Math.max(20, Math.ceil(connections * 1.5));
    const ram = memoryShareMiB;
    const sharedBuffers = ram / 4;
    const workMem = Math.max(4, (ram - sharedBuffers) / (maxConnections * 3));
    const lines = [
      `max_connections = ${maxConnections}`,
      `shared_buffers = ${kb(sharedBuffers)}`,
      `effective_cache_size = ${kb((ram * 3) / 4)}`,
      `maintenance_work_mem = ${kb(Math.min(2048, ram / 16))}`,
      `work_mem = ${kb(workMem)}`,
      'checkpoint_completion_target = 0.9',
      `wal_buffers = ${kb(Math.min(16, Math.max(0.03125, (sharedBuffers * 3) / 100)))}`,
      'default_statistics_target = 100',
      'random_page_cost = 1.1',
      'effective_io_concurrency = 200',
      'min_wal_size = 1GB',
      'max_wal_size = 4GB',
    ];
    if (spec.vcpus >= 4) {
      const half = Math.min(4, Math.ceil(spec.vcpus / 2));
      lines.push(
        `max_worker_processes = ${spec.vcpus}`,
        `max_parallel_workers_per_gather = ${half}`,
        `max_parallel_workers = ${spec.vcpus}`,
        `max_parallel_maintenance_workers = ${half}`,
      );
    }
    const path = `/etc/postgresql/${postgresVersion(facts)}/main/conf.d/90-prescient-tuning.conf`;
    return [{ kind: 'write-file', path, content: `${header(`PostgreSQL (${Math.round(ram)} MiB for it)`, service, spec)}${lines.join('\n')}\n`, mode: 0o644 }];
  },
};
