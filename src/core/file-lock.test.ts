import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FileLock } from './file-lock.js';

test('a lock left by a dead process is taken over; a live holder is waited for', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'prescient-lock-'));
  try {
    const path = join(dir, '.lock');
    // a process that exits at once leaves its pid in the lock file
    const child = spawn('true');
    await new Promise((r) => child.once('exit', r));
    await writeFile(path, String(child.pid));
    const lock = new FileLock(path);
    assert.equal(await lock.run(async () => (await readFile(path, 'utf8')).trim()), String(process.pid));

    // within one process, callers are serialised
    const order: number[] = [];
    await Promise.all([1, 2, 3].map((n) => lock.run(async () => {
      order.push(n);
      await new Promise((r) => setTimeout(r, 5));
      order.push(-n);
    })));
    assert.deepEqual(order, [1, -1, 2, -2, 3, -3]);

    // a live holder (our parent process): wait, then time out
    await writeFile(path, String(process.ppid));
    await assert.rejects(new FileLock(path).run(async () => undefined, { timeoutMs: 100 }), /timed out/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
