import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { storeContract } from '../store-contract.js';
import Database from 'better-sqlite3';
import { migrate, migrations, rollupMigrations } from './migrations.js';
import { openSqliteStore, rollupsFileOf } from './sqlite-store.js';

const freshFile = (): string => join(mkdtempSync(join(tmpdir(), 'prescient-store-')), 'prescient.db');
storeContract('sqlite', async () => openSqliteStore({ file: freshFile() }), {
  openTwo: async () => {
    const file = freshFile();
    return [openSqliteStore({ file }), openSqliteStore({ file })];
  },
});

test('sqlite: a subject deleted by another connection (a revoke from the CLI while serve runs) is written anew', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'prescient-store-')), 'prescient.db');
  const serve = openSqliteStore({ file });
  const cli = openSqliteStore({ file });
  const t0 = Date.UTC(2024, 0, 1);
  try {
    await serve.grantConsent(['v_x'], t0);
    await serve.write([{ kind: 'resource', subject: 'v_x', subjectKind: 'vm', source: 'agent', time: t0, cpuPercent: 1 }]);
    assert.equal((await cli.revokeConsent(['v_x'])).deleted, 1);
    assert.deepEqual(await cli.listSubjects(), []);
    await serve.write([{ kind: 'resource', subject: 'v_x', subjectKind: 'vm', source: 'hypervisor', time: t0 + 1000, cpuPercent: 2 }]);
    assert.deepEqual((await cli.listSubjects()).map((s) => [s.subject, s.firstMs]), [['v_x', t0 + 1000]]);
    assert.deepEqual((await cli.rollups('v_x')).map((r) => r.mean), [{ cpuPercent: 2 }]);
  } finally {
    await serve.close();
    await cli.close();
  }
});

test('sqlite: a store of the first schema (rollups in the store file) opens with its rollups moved, and catches up what was not rolled up', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'prescient-store-')), 'prescient.db');
  const t0 = Date.UTC(2024, 0, 1);
  const old = new Database(file);
  old.pragma('journal_mode = WAL');
  old.exec(migrations[0] as string);
  old.pragma('user_version = 1');
  old.prepare(`INSERT INTO subjects (id, pseudonym, kind, first_ms, last_ms) VALUES (1, 'v_old', 'vm', ?, ?)`).run(t0, t0 + 300_000);
  // Sample 1 was rolled up (watermark 1); sample 2, in the next bucket, was not yet.
  old.prepare(`INSERT INTO resource_samples (subject_id, source, time_ms, cpu_percent) VALUES (1, 'hypervisor', ?, 10), (1, 'hypervisor', ?, 30)`).run(t0, t0 + 300_000);
  old.prepare(`INSERT INTO resource_rollups (subject_id, source, bucket_ms, cpu_percent_n, cpu_percent_sum, cpu_percent_max) VALUES (1, 'hypervisor', ?, 1, 10, 10)`).run(t0);
  old.prepare(`UPDATE store_meta SET value = 1 WHERE key = 'rollup_watermark'`).run();
  old.close();

  const store = openSqliteStore({ file });
  try {
    assert.deepEqual(
      (await store.rollups('v_old')).map((r) => [r.bucketMs - t0, r.mean.cpuPercent, r.samples.cpuPercent]),
      [
        [0, 10, 1],
        [300_000, 30, 1],
      ],
    );
    assert.equal((await store.counts()).rollups, 2);
  } finally {
    await store.close();
  }
  const reopened = new Database(file, { readonly: true });
  assert.equal(reopened.pragma('user_version', { simple: true }), migrations.length);
  // The old table has left the store file; the rows live in the rollups file.
  assert.deepEqual(reopened.prepare(`SELECT name FROM sqlite_master WHERE name = 'resource_rollups'`).all(), []);
  reopened.close();
});

test('sqlite: a store from before every-event-once opens with its rows kept, duplicates included; from then on an event is stored once', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'prescient-store-')), 'prescient.db');
  const t0 = Date.UTC(2024, 0, 1);
  const old = new Database(file);
  old.prepare('ATTACH DATABASE ? AS rollups').run(rollupsFileOf(file));
  migrate(old, 'rollups', rollupMigrations);
  migrate(old, 'main', migrations.slice(0, 3));
  old.prepare(`INSERT INTO subjects (id, pseudonym, kind, first_ms, last_ms) VALUES (1, 'v_old', 'vm', ?, ?)`).run(t0, t0);
  // The same command stored twice by an ingest run twice on the old code.
  old.prepare(`INSERT INTO sequence_events (subject_id, source, time_ms, kind, name) VALUES (1, 'hypervisor', ?, 'command', 'ls'), (1, 'hypervisor', ?, 'command', 'ls')`).run(t0, t0);
  old.close();

  const store = openSqliteStore({ file });
  try {
    assert.equal((await store.counts()).command, 2);
    const ls = { kind: 'command' as const, subject: 'v_old', subjectKind: 'vm' as const, source: 'hypervisor' as const, time: t0, program: 'ls' };
    // The old rows have no digest: the event is stored once more, then never again.
    assert.deepEqual(await store.write([ls]), { written: 1, alreadyStored: 0, refused: [] });
    assert.deepEqual(await store.write([ls]), { written: 1, alreadyStored: 1, refused: [] });
    assert.equal((await store.counts()).command, 3);
  } finally {
    await store.close();
  }
});

test('sqlite: a large write lets the event loop turn while it is written, and nothing of it is seen before all of it is: not by another connection, not by a read on this one', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'prescient-store-')), 'prescient.db');
  const store = openSqliteStore({ file });
  const other = new Database(file, { readonly: true });
  const t0 = Date.UTC(2024, 0, 1);
  const rows = 130_000; // a 16 MiB NDJSON body of samples
  const time = Float64Array.from({ length: rows }, (_, i) => t0 + i * 1000);
  const values = new Float64Array(rows * 8).fill(Number.NaN).map((v, i) => (i % 8 === 1 ? 5 : v));
  try {
    let turns = 0;
    const seenByOther: number[] = [];
    const tick = setInterval(() => {
      turns++;
      seenByOther.push((other.prepare('SELECT count(*) AS n FROM resource_samples').get() as { n: number }).n);
    }, 1);
    const write = store.writeResourceColumns({ source: 'hypervisor', subjects: [{ subject: 'v_big', subjectKind: 'vm' }], rows, time, values });
    // A read asked for while it is written answers what is committed after it, never a part.
    await new Promise((resolve) => setImmediate(resolve));
    const counted = store.counts();
    assert.equal((await write).written, rows);
    clearInterval(tick);
    assert.equal((await counted).resource, rows);
    assert.ok(turns >= 3, `the event loop turned ${turns} times during the write`);
    assert.ok(seenByOther.every((n) => n === 0 || n === rows), `another connection saw part of it: ${[...new Set(seenByOther)].join(', ')}`);
  } finally {
    other.close();
    await store.close();
  }
});
