import assert from 'node:assert/strict';
import { link, mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { LayerCache, layerKey } from './layer-cache.js';

/** Cache cleanup on real files: leaves first, by last use, and a layer another name holds frees nothing. */
test('layers gc removes unused leaves first and never a layer a kept one is built on', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'prescient-layer-cache-'));
  try {
    const cache = new LayerCache(dir);
    await mkdir(cache.blobDir, { recursive: true });
    const old = new Date(Date.now() - 30 * 24 * 3600_000);
    const add = async (module: string, parent: string, usedAt: Date): Promise<string> => {
      const key = layerKey({ parent, module, moduleVersion: 1, changes: [] });
      const path = join(cache.blobDir, key); // stands in for sha256/<hex>
      await writeFile(path, module);
      await writeFile(join(dir, `${key}.json`), JSON.stringify({ key, parent, parentPath: '', module, moduleVersion: 1, changes: [], path, createdAt: usedAt.toISOString(), buildMs: 1 }));
      await utimes(join(dir, `${key}.json`), usedAt, usedAt);
      return key;
    };
    const software = await add('software', 'base', old);
    const services = await add('services', software, old);
    const sizingOld = await add('sizing', services, old);
    await add('sizing', `${services}-2`, new Date()); // a recent leaf on another branch
    const data = await add('data', services, new Date()); // recent: keeps services and software
    // the registry's name for an old leaf: removing the cache's frees nothing
    await mkdir(join(dir, 'registry'));
    await link(join(cache.blobDir, sizingOld), join(dir, 'registry', 'blob'));

    const dry = await cache.gc({ olderThanMs: 7 * 24 * 3600_000, dryRun: true });
    assert.deepEqual(dry.removed.map((r) => r.key), [sizingOld]);
    assert.equal((await readdir(dir)).filter((n) => n.endsWith('.json')).length, 5, 'a dry run removes nothing');

    const r = await cache.gc({ olderThanMs: 7 * 24 * 3600_000 });
    assert.deepEqual(r.removed.map((x) => x.module), ['sizing']);
    assert.equal(r.bytesFreed, 0);
    assert.equal((await stat(join(dir, 'registry', 'blob'))).size, 'sizing'.length);
    assert.ok(await cache.get(data), 'the recent leaf keeps its chain');
    assert.ok(await cache.get(software));

    const all = await cache.gc({ olderThanMs: 0 });
    assert.equal(all.kept, 0);
    assert.deepEqual(all.removed.slice(-2).map((x) => x.module), ['services', 'software'], 'children before parents');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
