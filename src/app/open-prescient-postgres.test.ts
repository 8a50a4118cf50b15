import assert from 'node:assert/strict';
import { chmod, cp, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ValidationError } from '../core/errors.js';
import { postgresBin, startPostgres, type RunningPostgres } from '../store/testing/postgres-cluster.js';
import { openPrescient } from './open-prescient.js';
import { configFile, loadPrescientConfig } from './prescient-config.js';
import { tempDirs } from '../../test/support/temp-dirs.js';

const home = tempDirs('prescient-config-pg-');

test('store.url: a bad URL names the field; a password in a config.json others can read is refused; PRESCIENT_STORE_URL is checked too', async () => {
  const dir = await home();
  await writeFile(configFile(dir), JSON.stringify({ store: { kind: 'postgres', url: 'mysql://x@db/prescient' } }));
  await assert.rejects(loadPrescientConfig(dir, {}), (e: unknown) => e instanceof ValidationError && e.field === 'store.url');
  await writeFile(configFile(dir), JSON.stringify({ store: { kind: 'postgres', url: 'postgres://prescient:s3cret@db.example/prescient' } }));
  await chmod(configFile(dir), 0o644);
  await assert.rejects(loadPrescientConfig(dir, {}), (e: unknown) => e instanceof ValidationError && e.field === 'store.url' && /chmod 600/.test(e.message) && !e.message.includes('s3cret'));
  await chmod(configFile(dir), 0o600);
  assert.deepEqual((await loadPrescientConfig(dir, {})).store, { kind: 'postgres', url: 'postgres://prescient:s3cret@db.example/prescient' });
  await assert.rejects(loadPrescientConfig(await home(), { PRESCIENT_STORE_URL: 'db.example:5432' }), (e: unknown) => e instanceof ValidationError && e.field === 'PRESCIENT_STORE_URL');
});

const bin = await postgresBin();
if (bin === undefined) {
  test('the opener on PostgreSQL', { skip: "Debian's postgresql is not installed (bash scripts/setup installs it)" }, () => undefined);
} else {
  let cluster: RunningPostgres | undefined;
  before(async () => {
    cluster = await startPostgres();
  });
  after(async () => {
    await cluster?.stop();
  });

  test('store: { kind: "postgres", url } in config.json (or PRESCIENT_STORE_URL) opens the shared database: what one home ingests, another reads; no SQLite file is made', async () => {
    const first = await home();
    await writeFile(configFile(first), JSON.stringify({ store: { kind: 'postgres', url: cluster!.url, maxConnections: 2 } }));
    const a = await openPrescient({ home: first });
    assert.deepEqual(a.config.store, { kind: 'postgres', url: cluster!.url, maxConnections: 2 });
    const ingestion = await a.ingestion();
    const t0 = Date.UTC(2024, 0, 1);
    const line = JSON.stringify({ kind: 'resource', subject: 'vm:17', source: 'hypervisor', time: t0, cpuPercent: 12 });
    const report = await ingestion.ingestor.ingestBody(Buffer.from(line), 'ndjson');
    assert.equal(report.accepted, 1);
    await a.close();
    assert.equal(existsSync(a.paths.store), false, 'no SQLite file in the home');

    // Another "machine": its own home, the same database through the environment. The same
    // pseudonym key (shared secrets, as workers of one installation have) finds the same subject.
    const second = await home();
    await cp(join(first, 'secrets'), join(second, 'secrets'), { recursive: true });
    const b = await openPrescient({ home: second, config: await loadPrescientConfig(second, { PRESCIENT_STORE_URL: cluster!.url }) });
    const store = await b.store();
    const [subject] = await store.listSubjects();
    assert.equal(subject?.kind, 'vm');
    assert.equal(subject?.subject, (await b.ingestion()).anonymiser.pseudonym('vm', '17'));
    assert.deepEqual((await store.rollups(subject!.subject)).map((r) => r.mean.cpuPercent), [12]);
    await b.close();
  });
}
