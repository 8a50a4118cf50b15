import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { test } from 'node:test';
import { ValidationError } from '../core/errors.js';
import { openPrescient } from './open-prescient.js';
import { configFile, loadPrescientConfig, registryConfigOf } from './prescient-config.js';
import { tempDirs } from '../../test/support/temp-dirs.js';

const home = tempDirs('prescient-config-');

test('no config.json means today’s installation: SQLite in the home, the local registry', async () => {
  assert.deepEqual(await loadPrescientConfig(await home(), {}), { store: { kind: 'sqlite' }, registry: 'local' });
});

test('an invalid config.json is refused with the field and the file named', async () => {
  const dir = await home();
  await writeFile(configFile(dir), JSON.stringify({ store: 'postgress' }));
  await assert.rejects(loadPrescientConfig(dir), (e: unknown) => e instanceof ValidationError && e.field === 'store.kind' && e.message.includes(configFile(dir)));
  await writeFile(configFile(dir), JSON.stringify({ stroe: 'sqlite' }));
  await assert.rejects(loadPrescientConfig(dir), (e: unknown) => e instanceof ValidationError && e.field === 'stroe');
  await writeFile(configFile(dir), '{ not json');
  await assert.rejects(openPrescient({ home: dir }), (e: unknown) => e instanceof ValidationError && e.field === configFile(dir));
});

test('the opener opens parts on first use: reading the registry creates nothing, the store is the configured SQLite file', async () => {
  const dir = await home();
  const prescient = await openPrescient({ home: dir });
  const registry = await prescient.registry({ readOnly: true });
  assert.deepEqual(await registry.repositories(), []);
  assert.equal(existsSync(prescient.paths.store), false, 'no database for a reading command');
  assert.equal(existsSync(prescient.paths.secrets), false, 'no key for a reading command');
  const ingestion = await prescient.ingestion();
  assert.equal(ingestion.store, await prescient.store(), 'one store, shared');
  assert.equal(existsSync(prescient.paths.store), true);
  await prescient.close();
});

test('registry: an external OCI registry in config.json (the field named when wrong), PRESCIENT_REGISTRY_URL winning over the file', async () => {
  const dir = await home();
  await writeFile(configFile(dir), JSON.stringify({ registry: { kind: 'oci', url: 'http://127.0.0.1:5000', insecure: true } }));
  const config = await loadPrescientConfig(dir);
  assert.deepEqual(registryConfigOf(config, { kind: 'local' }), { kind: 'oci', url: 'http://127.0.0.1:5000', insecure: true });
  assert.deepEqual(registryConfigOf(config, { kind: 'oci', url: 'https://registry.example.com' }), { kind: 'oci', url: 'https://registry.example.com' });
  assert.deepEqual(registryConfigOf(await loadPrescientConfig(await home()), { kind: 'local' }), { kind: 'local' });
  await writeFile(configFile(dir), JSON.stringify({ registry: { kind: 'oci', url: 'http://127.0.0.1:5000/some/path' } }));
  await assert.rejects(loadPrescientConfig(dir), (e: unknown) => e instanceof ValidationError && e.field === 'registry.url');
  await writeFile(configFile(dir), JSON.stringify({ registry: { kind: 'oci', url: 'http://127.0.0.1:5000', token: 'x' } }));
  await assert.rejects(loadPrescientConfig(dir), (e: unknown) => e instanceof ValidationError && e.field === 'registry.token');
  // the opener: local by default, the external registry when configured (nothing is contacted until used)
  assert.equal(await (await openPrescient({ home: await home(), env: {} })).external(), undefined);
  await writeFile(configFile(dir), JSON.stringify({ registry: { kind: 'oci', url: 'http://127.0.0.1:5000', insecure: true } }));
  const opened = await openPrescient({ home: dir, env: {} });
  assert.equal((await opened.external())?.address, '127.0.0.1:5000');
  await opened.close();
});
