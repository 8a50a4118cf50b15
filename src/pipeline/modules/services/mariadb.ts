import { catalogued } from '../../../predict/service-catalog.js';
import type { Change } from '../../change.js';
import type { ServiceTuner } from './tuner.js';
import { header } from './tuner.js';
import { firstBootPasswordUnit, seedPasswordFile, seedPasswordSecret } from './password-unit.js';

/** The account a client logs in with from outside; root stays on the unix socket only. */
export const mariadbUser = 'prescient';
const passwordFile = seedPasswordFile('mariadb');

function passwordUnit(): Change[] {
  return firstBootPasswordUnit({
    id: 'mariadb',
    product: 'MariaDB',
    after: ['mariadb.service'],
    wants: 'mariadb.service',
    // The seed's password is hex (see machine-secrets.ts), so it can stand inside SQL quotes.
    check: `case "$pw" in *[!0-9a-f]*) echo "unexpected characters in ${passwordFile}" >&2; exit 1;; esac`,
    ready: 'mariadb-admin ping --silent 2>/dev/null',
    apply: `mariadb <<SQL
CREATE USER IF NOT EXISTS '${mariadbUser}'@'%' IDENTIFIED BY '$pw';
ALTER USER '${mariadbUser}'@'%' IDENTIFIED BY '$pw';
GRANT ALL PRIVILEGES ON *.* TO '${mariadbUser}'@'%' WITH GRANT OPTION;
SQL
`,
  });
}

/**
 * MariaDB for a web application's OLTP load: the InnoDB buffer pool at 60 % of its memory
 * share (the rest is per-connection buffers and the OS cache for logs), redo log at a quarter
 * of the pool, connections for the predicted load. A file in mariadb.conf.d that sorts after
 * Debian's 50-server.cnf, so its bind-address wins.
 */
export const mariadbTuner: ServiceTuner = {
  service: catalogued('mariadb'),
  name: 'mariadb',
  package: () => 'mariadb-server',
  unit: 'mariadb.service',
  user: 'mysql',
  ports: [3306],
  memoryHungry: true,
  configure({ exposed }) {
    return [
      {
        kind: 'write-file',
        path: '/etc/mysql/mariadb.conf.d/80-prescient-access.cnf',
        content: `# Written by Prescient (services module): where MariaDB listens.\n[mysqld]\nbind-address = ${exposed ? '0.0.0.0' : '127.0.0.1'}\n`,
        mode: 0o644,
      },
      ...passwordUnit(),
    ];
  },
  // MariaDB's own check, as its user: it parses every option file and refuses unknown settings.
  check: () => ({ kind: 'run-command', argv: ['sh', '-c', 'runuser -u mysql -- mariadbd --help --verbose >/dev/null'], timeoutSeconds: 120 }),
  tune({ service, spec, memoryShareMiB }) {
    const connections = service.expectedLoad.connections ?? service.concurrency;
    const pool = Math.max(64, Math.floor(memoryShareMiB * 0.6));
    const lines = [
      '[mysqld]',
      `max_connections = ${Math.max(20, Math.ceil(connections * 1.5))}`,
      `innodb_buffer_pool_size = ${pool}M`,
      `innodb_log_file_size = ${Math.max(48, Math.floor(pool / 4))}M`,
      'innodb_flush_method = O_DIRECT',
      `thread_cache_size = ${Math.min(100, Math.max(8, service.concurrency))}`,
      `table_open_cache = ${Math.max(400, connections * 20)}`,
    ];
    return [
      { kind: 'write-file', path: '/etc/mysql/mariadb.conf.d/90-prescient.cnf', content: `${header(`MariaDB (${Math.round(memoryShareMiB)} MiB for it)`, service, spec)}${lines.join('\n')}\n`, mode: 0o644 },
    ];
  },
  secret: seedPasswordSecret('mariadb', mariadbUser),
};
