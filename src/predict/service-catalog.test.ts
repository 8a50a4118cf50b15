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
