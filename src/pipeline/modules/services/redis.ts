import { catalogued } from '../../../predict/service-catalog.js';
import type { ServiceTuner } from './tuner.js';
import { afterSeed, header } from './tuner.js';

/** Fragments the seed writes (the password); Redis 7 includes a glob, and none is fine. */
export const redisSeedDir = '/etc/redis/prescient.d';

/**
 * Redis as a cache: maxmemory at three quarters of its share (the rest is fork and
 * fragmentation room), LRU eviction, clients for the predicted concurrency. Debian's
 * redis.conf gets include lines at its end, so our settings win and theirs stay. Our files are
 * world-readable (0644: the `redis` user must read them — a 0640 root:root include stopped it
 * from starting — and they hold nothing secret); the password comes from the seed into
 * `prescient.d/`, readable by redis only. Protected mode stays on: booted without its seed, an
 * exposed Redis still refuses remote clients. It logs to stdout, so the journal has its words.
 */
export const redisTuner: ServiceTuner = {
  service: catalogued('redis-server'),
  name: 'redis',
  package: () => 'redis-server',
  unit: 'redis-server.service',
  user: 'redis',
  ports: [6379],
  memoryHungry: true,
  configure({ exposed }) {
    const conf = [
      '# Written by Prescient (services module): where Redis listens and how it is protected.',
      exposed ? 'bind * -::*' : 'bind 127.0.0.1 -::1',
      'protected-mode yes',
      'logfile ""',
      `include ${redisSeedDir}/*.conf`,
    ].join('\n');
    return [
      { kind: 'write-file', path: '/etc/redis/prescient-access.conf', content: `${conf}\n`, mode: 0o644, uid: 0, gid: 0 },
      { kind: 'write-file', path: `${redisSeedDir}/README`, content: "# The cloud-init seed writes this machine's password here (auth.conf) at first boot.\n", mode: 0o644 },
      { kind: 'ensure-line', path: '/etc/redis/redis.conf', line: 'include /etc/redis/prescient-access.conf' },
      afterSeed('redis-server.service'),
    ];
  },
  tune({ service, spec, memoryShareMiB }) {
    const conf = [
      `maxmemory ${Math.max(16, Math.floor(memoryShareMiB * 0.75))}mb`,
      'maxmemory-policy allkeys-lru',
      `maxclients ${Math.max(1000, service.concurrency * 2)}`,
      'tcp-backlog 511',
    ].join('\n');
    return [
      { kind: 'write-file', path: '/etc/redis/prescient.conf', content: `${header('Redis', service, spec)}${conf}\n`, mode: 0o644, uid: 0, gid: 0 },
      { kind: 'ensure-line', path: '/etc/redis/redis.conf', line: 'include /etc/redis/prescient.conf' },
    ];
  },
  // Redis has no config-test flag: it loads the config as its user, on a unix socket (no TCP
  // port) and logging to stdout; still running after a few seconds means the config loaded.
  check: () => ({
    kind: 'run-command',
    argv: ['sh', '-c', "timeout 5 runuser -u redis -- redis-server /etc/redis/redis.conf --port 0 --unixsocket /tmp/prescient-redis-check.sock --daemonize no --supervised no --logfile ''; r=$?; rm -f /tmp/prescient-redis-check.sock; [ $r -eq 124 ]"],
    timeoutSeconds: 60,
  }),
  secret: {
    account: 'default',
    seedFiles: ({ password }) => [{ path: `${redisSeedDir}/auth.conf`, content: `requirepass ${password}\n`, owner: 'redis:redis', permissions: '0640' }],
  },
};
