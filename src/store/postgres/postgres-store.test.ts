import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { storeContract } from '../store-contract.js';
import { postgresBin, startPostgres, type RunningPostgres } from '../testing/postgres-cluster.js';
import { migrate, migrations } from './migrations.js';
import { openPostgresStore } from './postgres-store.js';

// One cluster for the whole file, stopped in `after`; each store gets a database of its own.
const bin = await postgresBin();
let cluster: RunningPostgres | undefined;
let databases = 0;

async function freshDatabase(): Promise<string> {
  const admin = new pg.Client({ connectionString: cluster!.url });
  await admin.connect();
  const name = `store_${++databases}`;
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return cluster!.url.replace(/\/postgres$/, `/${name}`);
}

if (bin === undefined) {
  test('postgres store', { skip: "Debian's postgresql is not installed (bash scripts/setup installs it)" }, () => undefined);
} else {
  before(async () => {
    cluster = await startPostgres();
  });
  after(async () => {
    await cluster?.stop();
  });

  storeContract('postgres', async () => openPostgresStore({ url: await freshDatabase() }), {
    openTwo: async () => {
      const url = await freshDatabase();
      return [openPostgresStore({ url }), openPostgresStore({ url })];
    },
  });

  test('postgres: migrations run once when four stores open a new database at the same time, and again change nothing', async () => {
    // A race that is lost now and then (CREATE TABLE IF NOT EXISTS is not safe against itself): several rounds.
    for (let round = 0; round < 5; round++) {
      const url = await freshDatabase();
      const pools = Array.from({ length: 4 }, () => new pg.Pool({ connectionString: url }));
      try {
        await Promise.all(pools.map((p) => migrate(p)));
        await migrate(pools[0]!);
        const { rows } = await pools[0]!.query<{ version: number }>('SELECT version FROM store_migrations ORDER BY version');
        assert.deepEqual(rows.map((r) => r.version), migrations.map((_, i) => i + 1));
      } finally {
        await Promise.all(pools.map((p) => p.end()));
      }
    }
  });

  test('postgres: a bad URL is refused when the store is built, naming the field; an unreachable server fails the call, not the process', async () => {
    assert.throws(() => openPostgresStore({ url: 'mysql://x@127.0.0.1/db' }), (e: Error & { field?: string }) => e.field === 'store.url');
    assert.throws(() => openPostgresStore({ url: 'postgres://x@127.0.0.1/db', maxConnections: 0 }), (e: Error & { field?: string }) => e.field === 'store.maxConnections');
    // A port nobody listens on (the cluster's own, on a database that does not exist, would also do).
    const store = openPostgresStore({ url: `postgres://postgres@127.0.0.1:1/none` });
    await assert.rejects(store.counts(), (e: Error & { code?: string }) => e.code === 'UNAVAILABLE' && /PostgreSQL store at 127\.0\.0\.1:1\/none is unavailable/.test(e.message));
    await store.close();
  });

  test('postgres: a server that goes away under an open store fails the calls as UNAVAILABLE, never the process; they succeed again once it is back', async () => {
    const own = await startPostgres(); // its own cluster: this test stops it
    const store = openPostgresStore({ url: own.url });
    const sample = (cpuPercent: number) => [{ kind: 'resource' as const, subject: 'v_gone', subjectKind: 'vm' as const, source: 'hypervisor' as const, time: Date.UTC(2024, 0, 1), cpuPercent }];
    try {
      await store.write(sample(1));
      await own.halt(); // the pool's idle connections are cut: an 'error' event nobody asked for
      await new Promise((r) => setTimeout(r, 200));
      await assert.rejects(store.counts(), (e: Error & { code?: string }) => e.code === 'UNAVAILABLE' && e.message.includes(`127.0.0.1:${own.port}/postgres`));
      await assert.rejects(store.write(sample(2)), (e: Error & { code?: string }) => e.code === 'UNAVAILABLE');
      await own.restart();
      assert.deepEqual(await store.write(sample(3)), { written: 1, alreadyStored: 0, refused: [] });
      assert.equal((await store.counts()).resource, 2, 'the write before the outage and the one after');
    } finally {
      await store.close();
      await own.stop();
    }
  });

  test('postgres: a store opened while its database is down works once the database is up, without a restart of its process', async () => {
    const own = await startPostgres();
    await own.halt();
    const store = openPostgresStore({ url: own.url });
    try {
      await assert.rejects(store.counts(), (e: Error & { code?: string }) => e.code === 'UNAVAILABLE');
      await own.restart();
      assert.equal((await store.counts()).subjects, 0);
    } finally {
      await store.close();
      await own.stop();
    }
  });

  test('postgres: a database that stops answering fails each call within its bound, and answers again once it is thawed', async () => {
    const own = await startPostgres();
    const store = openPostgresStore({ url: own.url, connectTimeoutMs: 1000, queryTimeoutMs: 1000 });
    try {
      await store.counts(); // migrated, a connection idle in the pool: the next call goes out on it
      await own.freeze();
      for (const call of [() => store.counts(), () => store.write([{ kind: 'resource', subject: 'v_frozen', subjectKind: 'vm', source: 'hypervisor', time: Date.UTC(2024, 0, 1), cpuPercent: 1 }])]) {
        const t0 = performance.now();
        await assert.rejects(call(), (e: Error & { code?: string }) => e.code === 'UNAVAILABLE');
        const ms = performance.now() - t0;
        assert.ok(ms < 5000, `failed after ${Math.round(ms)} ms`);
      }
      await own.thaw();
      assert.ok((await store.counts()).subjects >= 0);
    } finally {
      await own.thaw();
      await store.close();
      await own.stop();
    }
  });
}
