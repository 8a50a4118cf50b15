import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { secondStampFsSkip, withSecondStampFs } from '../../test/support/second-stamp-fs.js';
import { FileIdentityCache, FileIdentitySyncCache, fileIdentity, racyTickMs } from './file-identity.js';

/** A cache over `path` that counts its reads. */
function counted(): { cache: FileIdentityCache<string>; get: (path: string) => Promise<string>; reads: () => number } {
  const cache = new FileIdentityCache<string>();
  let reads = 0;
  return {
    cache,
    get: (path) => cache.get(path, async () => {
      reads++;
      return readFile(path, 'utf8');
    }),
    reads: () => reads,
  };
}

test('a same-size rewrite within one timestamp tick, its times set back, is read again', { skip: secondStampFsSkip }, () =>
  withSecondStampFs(async (mnt) => {
    const file = join(mnt, 'value');
    const { get, reads } = counted();
    let collided = false;
    for (let attempt = 0; attempt < 5 && !collided; attempt++) {
      await writeFile(file, 'first');
      const before = await stat(file);
      const identity = await fileIdentity(file);
      assert.equal(await get(file), 'first');
      await writeFile(file, 'again');
      await utimes(file, before.atime, before.mtime);
      // The racy case proper: nothing a stat shows tells the two apart (else the second ticked over; try again).
      collided = (await fileIdentity(file)) === identity;
      if (collided) assert.equal(await get(file), 'again', 'the rewrite has the same identity, yet its value is the new one');
    }
    assert.ok(collided, 'no rewrite fell within the tick of its first write in 5 attempts');

    // Once older than the tick, it is read one last time (what was read while young is not vouched for), then kept.
    await sleep(racyTickMs + 1100);
    const n = reads();
    assert.equal(await get(file), 'again');
    assert.equal(await get(file), 'again');
    assert.equal(reads(), n + 1);
  }),
);

test('a file older than the tick is read once and then served from the cache, until it changes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'prescient-identity-'));
  try {
    const file = join(dir, 'value');
    await writeFile(file, 'one');
    await sleep(racyTickMs + 100);
    const { get, reads } = counted();
    assert.deepEqual(await Promise.all([get(file), get(file), get(file)]), ['one', 'one', 'one']);
    assert.equal(await get(file), 'one');
    assert.equal(reads(), 1, 'requests for an old file share one read');

    await writeFile(file, 'two');
    assert.equal(await get(file), 'two');
    assert.equal(reads(), 2);
    // Young: each call reads again, so a rewrite in the same tick cannot hide.
    assert.equal(await get(file), 'two');
    assert.equal(reads(), 3);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the synchronous cache keeps the same rule: a young file is read on every call, an old one once, a failed read is not kept', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'prescient-identity-sync-'));
  try {
    const file = join(dir, 'value');
    const cache = new FileIdentitySyncCache<string>();
    let reads = 0;
    const get = (): string => cache.get(file, () => (reads++, readFileSync(file, 'utf8')));
    assert.throws(get, /ENOENT/);
    await writeFile(file, 'one');
    assert.equal(get(), 'one');
    assert.equal(get(), 'one');
    assert.equal(reads, 3, 'young: read again');
    await sleep(racyTickMs + 100);
    assert.equal(get(), 'one');
    assert.equal(get(), 'one');
    assert.equal(reads, 4, 'old: read once, then kept');
    await writeFile(file, 'two');
    assert.equal(get(), 'two');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
