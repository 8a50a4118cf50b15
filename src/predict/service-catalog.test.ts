import assert from 'node:assert/strict';
import { test } from 'node:test';
import { serviceForPackage, serviceForPort } from './service-catalog.js';

test('a server package implies its service; a client-first one only through its port seen listening', () => {
  assert.equal(serviceForPackage('nginx')?.service, 'nginx');
  assert.equal(serviceForPackage('postgresql')?.service, 'postgresql');
  assert.equal(serviceForPackage('rsync'), undefined, 'running rsync is no reason to open port 873');
  assert.equal(serviceForPort(873)?.service, 'rsync');
  assert.equal(serviceForPackage('curl'), undefined);
});

test('every catalogue service the services module can prepare resolves to its tuner, MariaDB and memcached included', async () => {
  const { serviceTuners, tunerNamed } = await import('../pipeline/modules/services/services-module.js');
  const { serviceCatalog } = await import('./service-catalog.js');
  for (const name of ['nginx', 'postgresql', 'redis-server', 'mariadb', 'memcached']) {
    const entry = serviceCatalog.find((s) => s.service === name);
    assert.ok(entry, `${name} is in the catalogue`);
    const tuner = serviceTuners.find((t) => t.service === entry);
    assert.ok(tuner, `${name} has a tuner`);
    for (const alias of [name, ...(entry.aliases ?? [])]) assert.equal(tunerNamed(alias), tuner, `${alias} finds ${name}'s tuner`);
    assert.equal(tuner.package({} as never), entry.package);
    assert.deepEqual(tuner.ports, entry.ports.filter((p) => p.protocol === 'tcp').map((p) => p.port).filter((p) => p !== 443));
  }
});
