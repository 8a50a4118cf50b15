import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { paths } from '../../core/config.js';
import { sampleTelemetry } from '../../demo/sample-telemetry.js';
import { Grants } from '../../grants/grants.js';
import { basicAuth } from '../../../test/support/basic-auth.js';
import { prescient } from '../../../test/support/cli.js';
import { startServe } from '../../../test/support/serve.js';
import { tempDirs } from '../../../test/support/temp-dirs.js';

const newDir = tempDirs('prescient-store-busy-');

/**
 * Another process holding the SQLite store's write lock longer than a writer waits (serve
 * writing a large batch while an ingest runs, or the other way round): the writer is told the
 * store is busy and to try again, as UNAVAILABLE (a 503 over HTTP, which exporters retry), never
 * an internal error; nothing is half-written, and the same write succeeds once the lock is gone.
 */
test('a write that finds the store locked by another process is UNAVAILABLE, says to try again, and succeeds once it is free', { timeout: 120_000 }, async (t) => {
  const dir = await newDir();
  const home = join(dir, 'home');
  const lines = [...sampleTelemetry({ days: 1, endMs: Date.UTC(2026, 10, 28) })].map((e) => JSON.stringify(e));
  const first = join(dir, 'first.ndjson');
  const second = join(dir, 'second.ndjson');
  await writeFile(first, `${lines.slice(0, 100).join('\n')}\n`);
  await writeFile(second, `${lines.slice(100, 200).join('\n')}\n`);
  assert.equal((await prescient(home, ['ingest', first, '--format', 'ndjson'])).code, 0);
  const grants = await Grants.open({ secretsDir: paths(home).secrets });
  const admin = basicAuth(grants.credentials.admin);
  const server = await startServe(home);
  t.after(() => server.stop());

  // The other process: holds the write lock until its standard input closes.
  const holder = spawn(process.execPath, ['--input-type=module', '-e', `
    import Database from 'better-sqlite3';
    const db = new Database(process.argv[1]);
    db.exec('BEGIN IMMEDIATE');
    process.stdout.write('locked\\n');
    process.stdin.resume();
    process.stdin.on('end', () => { db.exec('ROLLBACK'); db.close(); });
  `, paths(home).store], { stdio: ['pipe', 'pipe', 'inherit'], cwd: process.cwd() });
  try {
    await once(holder.stdout!, 'data');
    const busy = await prescient(home, ['ingest', second, '--format', 'ndjson']);
    assert.equal(busy.code, 1, busy.stderr);
    assert.match(`${JSON.stringify(busy.json)} ${busy.stderr}`, /the telemetry store is busy.*try again/);
    assert.doesNotMatch(busy.stderr, /internal error|SqliteError/);

    const res = await fetch(`${server.base}/v1/telemetry`, { method: 'POST', headers: { authorization: admin, 'content-type': 'application/x-ndjson' }, body: lines.slice(200, 210).join('\n') });
    const body = (await res.json()) as { error: string; message: string };
    assert.equal(res.status, 503, JSON.stringify(body));
    assert.equal(body.error, 'UNAVAILABLE');
    assert.equal(res.headers.get('retry-after'), '5', 'an exporter is told when to send it again');
    assert.match(body.message, /the telemetry store is busy/);
  } finally {
    holder.stdin!.end();
    await once(holder, 'exit');
  }
  const after = await prescient(home, ['ingest', second, '--format', 'ndjson']);
  assert.equal(after.code, 0, after.stderr);
  assert.deepEqual([after.json.accepted, after.json.alreadyStored], [100, 0], 'the refused ingest had written nothing');
  const res = await fetch(`${server.base}/v1/telemetry`, { method: 'POST', headers: { authorization: admin, 'content-type': 'application/x-ndjson' }, body: lines.slice(200, 210).join('\n') });
  assert.equal(res.status, 200, await res.text());
});
