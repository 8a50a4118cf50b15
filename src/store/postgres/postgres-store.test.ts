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
    await assert.rejects(store.counts(), (e: Error & { code?: string }) => e.code === 'INTERNAL' && /PostgreSQL store failed/.test(e.message));
    await store.close();
  });

  test('postgres: a server that goes away under an open store fails the calls, never the process; close still returns', async () => {
    const own = await startPostgres(); // its own cluster: this test stops it
    const store = openPostgresStore({ url: own.url });
    try {
      await store.write([{ kind: 'resource', subject: 'v_gone', subjectKind: 'vm', source: 'hypervisor', time: Date.UTC(2024, 0, 1), cpuPercent: 1 }]);
    } finally {
      await own.stop(); // the pool's idle connections are cut: an 'error' event nobody asked for
    }
    await new Promise((r) => setTimeout(r, 200));
    await assert.rejects(store.counts(), (e: Error & { code?: string }) => e.code === 'INTERNAL');
    await store.close();
  });
}
