import { catalogued } from '../../../predict/service-catalog.js';
import type { ServiceTuner } from './tuner.js';
import { afterSeed, header } from './tuner.js';

/** The machine's memcached login (`user:password`), written by the seed; read by memcached only. */
export const memcachedAuthFile = '/etc/memcached/prescient-auth';
export const memcachedAccount = 'prescient';

/**
 * memcached as a cache beside a web application: memory at 80 % of its share (its overhead is
 * small), a thread per vCPU, connections for the predicted concurrency. Debian's wrapper reads
 * /etc/memcached.conf, one option per line. Protection: Debian's build has SASL, but SASL needs
 * the binary protocol, a SASL config and a sasldb made with sasl2-bin's tools at first boot;
 * memcached's own ASCII authentication (`-Y FILE`, user:password lines) needs only the file, so an
 * exposed memcached (its port opened inbound) requires the seed's password and refuses every
 * command before it (the binary protocol is off with it). An unexposed one listens on loopback
 * only, without a password: local clients rarely speak ASCII auth, and nothing outside reaches it.
 */
function memcachedConf(o: { memoryMiB: number; connections: number; threads: number; exposed: boolean; header: string }): string {
  const lines = [
    'logfile /var/log/memcached.log',
    `-m ${o.memoryMiB}`,
    '-p 11211',
    '-U 0',
    '-u memcache',
    `-l ${o.exposed ? '0.0.0.0' : '127.0.0.1'}`,
    `-c ${o.connections}`,
    `-t ${o.threads}`,
    '-P /var/run/memcached/memcached.pid',
    ...(o.exposed ? [`-Y ${memcachedAuthFile}`] : []),
  ];
  return `${o.header}${lines.join('\n')}\n`;
}

export const memcachedTuner: ServiceTuner = {
  service: catalogued('memcached'),
  name: 'memcached',
  package: () => 'memcached',
  unit: 'memcached.service',
  user: 'memcache',
  ports: [11211],
  memoryHungry: true,
  // Debian's own sizes until sizing (a layer above) rewrites the file for the machine.
  configure({ exposed }) {
    return [
      { kind: 'write-file', path: '/etc/memcached.conf', content: memcachedConf({ memoryMiB: 64, connections: 1024, threads: 4, exposed, header: '# Written by Prescient (services module): where memcached listens and whether it needs a password; sizing tunes the rest.\n' }), mode: 0o644 },
      ...(exposed ? [afterSeed('memcached.service')] : []),
    ];
  },
  tune({ service, spec, memoryShareMiB, exposed }) {
    const connections = service.expectedLoad.connections ?? service.concurrency;
    const content = memcachedConf({
      memoryMiB: Math.max(16, Math.floor(memoryShareMiB * 0.8)),
      connections: Math.max(1024, connections * 4),
      threads: Math.max(1, spec.vcpus),
      exposed,
      header: header(`memcached (${Math.round(memoryShareMiB)} MiB for it)`, service, spec),
    });
    return [{ kind: 'write-file', path: '/etc/memcached.conf', content, mode: 0o644 }];
  },
  // memcached has no config test: it starts as its user with the file's settings on a unix
  // socket (which turns TCP off); still running after a few seconds means they were taken. The
  // auth file comes with the seed, so -Y is left out here.
  check: () => ({
    kind: 'run-command',
    argv: ['sh', '-c', "args=$(grep '^-' /etc/memcached.conf | grep -v '^-[lpPUY] ') && timeout 3 runuser -u memcache -- memcached $args -s /tmp/prescient-memcached-check.sock; r=$?; rm -f /tmp/prescient-memcached-check.sock; [ $r -eq 124 ]"],
    timeoutSeconds: 60,
  }),
  secret: {
    account: memcachedAccount,
    // Only where the configuration asks for it (an exposed memcached).
    required: (written) => (written('/etc/memcached.conf') ?? '').split('\n').includes(`-Y ${memcachedAuthFile}`),
    seedFiles: ({ password }) => [{ path: memcachedAuthFile, content: `${memcachedAccount}:${password}\n`, owner: 'memcache:memcache', permissions: '0600' }],
  },
};
