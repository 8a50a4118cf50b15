import type { ServiceTuner } from './tuner.js';
import { header } from './tuner.js';

/**
 * Redis as a cache: maxmemory at three quarters of its share (the rest is fork and
 * fragmentation room), LRU eviction, clients for the predicted concurrency. Debian's
 * redis.conf gets one include line at its end, so our settings win and theirs stay.
 */
export const redisTuner: ServiceTuner = {
  names: ['redis', 'redis-server'],
  package: () => 'redis-server',
  unit: 'redis-server.service',
  memoryHungry: true,
  tune({ service, spec, memoryShareMiB }) {
    const conf = [
      `maxmemory ${Math.max(16, Math.floor(memoryShareMiB * 0.75))}mb`,
      'maxmemory-policy allkeys-lru',
      `maxclients ${Math.max(1000, service.concurrency * 2)}`,
      'tcp-backlog 511',
    ].join('\n');
    return [
      { kind: 'write-file', path: '/etc/redis/prescient.conf', content: `${header('Redis', service, spec)}${conf}\n`, mode: 0o640, uid: 0, gid: 0 },
      { kind: 'ensure-line', path: '/etc/redis/redis.conf', line: 'include /etc/redis/prescient.conf' },
    ];
  },
};
