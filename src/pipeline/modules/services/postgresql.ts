import { catalogued } from '../../../predict/service-catalog.js';
import type { ImageFacts } from '../../../image/facts.js';
import type { Change } from '../../change.js';
import type { ServiceTuner } from './tuner.js';
import { header } from './tuner.js';
import { firstBootPasswordUnit, seedPasswordSecret } from './password-unit.js';

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

/** The role a client logs in with from outside (scram, the seed's password); a superuser. */
export const postgresRole = 'prescient';

/**
 * At first boot, once the cluster accepts connections, creates the role and gives it the
 * seed's password (psql quotes it: `:'pw'`).
 */
function passwordUnit(version: string): Change[] {
  return firstBootPasswordUnit({
    id: 'postgresql',
    product: 'PostgreSQL',
    after: [`postgresql@${version}-main.service`, 'postgresql.service'],
    wants: `postgresql@${version}-main.service`,
    ready: 'runuser -u postgres -- pg_isready -q',
    apply: `runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -d postgres -v pw="$pw" <<'SQL'
SELECT 'CREATE ROLE ${postgresRole} LOGIN SUPERUSER' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${postgresRole}') \\gexec
ALTER ROLE ${postgresRole} PASSWORD :'pw';
SQL
`,
  });
}

/**
 * PostgreSQL in the spirit of pgtune's "web application" profile, from the memory this service
 * gets and the predicted connections; written to conf.d, which Debian's postgresql.conf includes.
 * Exposed, it listens everywhere and accepts remote clients with scram only.
 */
export const postgresqlTuner: ServiceTuner = {
  service: catalogued('postgresql'),
  name: 'postgresql',
  package: () => 'postgresql',
  unit: 'postgresql.service',
  user: 'postgres',
  ports: [5432],
  memoryHungry: true,
  configure({ facts, exposed }) {
    const version = postgresVersion(facts);
    const dir = `/etc/postgresql/${version}/main`;
    const changes: Change[] = [
      {
        kind: 'write-file',
        path: `${dir}/conf.d/80-prescient-access.conf`,
        content: `# Written by Prescient (services module): where PostgreSQL listens and how clients log in.\nlisten_addresses = '${exposed ? '*' : 'localhost'}'\npassword_encryption = 'scram-sha-256'\n`,
        mode: 0o644,
      },
    ];
    if (exposed) {
      for (const net of ['0.0.0.0/0', '::/0']) changes.push({ kind: 'ensure-line', path: `${dir}/pg_hba.conf`, line: `host all all ${net} scram-sha-256` });
    }
    changes.push(...passwordUnit(version));
    return changes;
  },
  // PostgreSQL's own check, as its user: the server reads postgresql.conf and conf.d.
  check: (facts) => {
    const version = postgresVersion(facts);
    return { kind: 'run-command', argv: ['runuser', '-u', 'postgres', '--', `/usr/lib/postgresql/${version}/bin/postgres`, '-C', 'listen_addresses', '-c', `config_file=/etc/postgresql/${version}/main/postgresql.conf`], timeoutSeconds: 120 };
  },
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
  secret: seedPasswordSecret('postgresql', postgresRole),
};
