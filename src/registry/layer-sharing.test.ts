import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { paths } from '../core/config.js';
import { sha256File } from '../core/digest.js';
import { run } from '../core/exec.js';
import type { BaseImage } from '../image/bases/build.js';
import { withImageSession } from '../image/open.js';
import * as qemuImg from '../image/qemu-img.js';
import { LayerCache, layerKey } from '../pipeline/layer-cache.js';
import { personalize, type PersonalizeReport } from '../pipeline/personalize.js';
import { assemblePipeline } from '../pipeline/plan.js';
import { fileModule } from '../../test/support/file-module.js';
import { testHomes, type TestHomes } from '../../test/support/homes.js';
import { debianBase, testHome } from '../../test/support/images.js';
import { webDbVector } from '../../test/support/vectors.js';
import { openRegistry, type Registry } from './registry.js';

/**
 * Issue 16: the layer cache and the registry hold one copy of every byte (the same inodes), and
 * cleaning either never takes a file the other still needs — checked by registering, cleaning
 * both ways, pulling with skopeo and opening what was pulled. Two small file-writing modules
 * keep it quick (no apt); the home lives under the test home, on the bases' file system.
 */
const motd = fileModule({ id: 'motd', path: '/etc/motd', content: (v) => `hello ${v.subject.clientId}\n`, mode: 0o644 });
const stamp = randomBytes(8).toString('hex');
const marker = fileModule({ id: 'marker', path: '/etc/prescient-marker', content: `${stamp}\n` });

describe('layer cache and registry share their files', () => {
  let base: BaseImage;
  let homes: TestHomes<'home'>;
  let home: string;
  let p: ReturnType<typeof paths>;
  let registry: Registry;
  let cache: LayerCache;
  let first: PersonalizeReport;
  const shared = testHome();

  const build = (out: string): Promise<PersonalizeReport> =>
    personalize({ base, vector: webDbVector(), pipeline: assemblePipeline({ modules: [motd, marker] }), outDir: join(home, out), layersDir: p.layers, runtimeDir: paths(shared).runtime });
  // opened with this home's runtime: the layer chain an image header may name is that home's
  const readGuest = (image: string, path: string): Promise<string> =>
    withImageSession(image, { runtimeDir: p.runtime, readOnly: true }, async (s) => (await s.readFile(path)).toString());
  const ino = async (path: string): Promise<bigint> => (await stat(path, { bigint: true })).ino;

  before(async () => {
    base = await debianBase();
    homes = await testHomes({ prefix: 'sharing', names: ['home'] });
    home = homes.homes.home;
    p = paths(home);
    registry = await openRegistry({ root: p.registry });
    cache = new LayerCache(p.layers);
  });
  after(async () => {
    await homes?.remove();
  });

  test('registering links the cached layers: the same inodes, no layer bytes written', async () => {
    first = await build('out1');
    assert.deepEqual(first.modules.map((m) => m.outcome), ['built', 'built']);
    const r = await registry.register({ repository: 'clients/share', layers: first.layers.map((path) => ({ path })), config: {} });
    for (const [i, l] of r.layers.entries()) {
      assert.equal(await ino(registry.layout.blobPath(l.digest)), await ino(first.layers[i]!), `layer ${i} is one file`);
      assert.equal(l.linked, true, `layer ${i} linked`);
    }
    // the base too: bases/, the cache and the registry name one inode
    assert.equal(await ino(first.layers[0]!), await ino(base.path));
    assert.ok(r.bytesWritten < 64 * 1024, `wrote ${r.bytesWritten} bytes`);
    const again = await registry.register({ repository: 'clients/share', layers: first.layers.map((path) => ({ path })), config: { again: true } });
    assert.ok(again.layers.every((l) => l.reused && !l.linked));
  });

  test('images gc leaves the cache whole: the next build reuses every layer and it opens', async () => {
    await registry.remove('clients/share:v2', { force: true });
    await registry.remove('clients/share:v1', { force: true });
    const gc = await registry.gc({ graceMs: 0, leaseMs: 0 });
    assert.ok(gc.removed.length >= 3, `removed ${gc.removed.length}`);
    // configs and manifests go; every removed layer blob is still the cache's, so frees nothing
    assert.ok(gc.bytesFreed < 64 * 1024, `freed ${gc.bytesFreed}`);
    for (const l of first.layers) await stat(l);
    const rebuilt = await build('out2');
    assert.deepEqual(rebuilt.modules.map((m) => m.outcome), ['reused', 'reused']);
    assert.deepEqual(rebuilt.layers, first.layers);
    assert.equal((await qemuImg.check(first.layers[2]!)).clean, true);
    assert.equal(await readGuest(rebuilt.outputs.disk!, '/etc/prescient-marker'), `${stamp}\n`);
  });

  test('layer-cache cleanup leaves the registry whole: skopeo pulls it and the checkout opens', async () => {
    const r = await registry.register({ repository: 'clients/share', layers: first.layers.map((path) => ({ path })), config: {} });
    const gc = await cache.gc({ olderThanMs: 0 });
    assert.deepEqual(gc.removed.map((x) => x.module).sort(), ['marker', 'motd']);
    assert.equal(gc.bytesFreed, 0, 'the registry still names every byte');
    await assert.rejects(stat(first.layers[2]!));
    await stat(base.path); // the base file itself is never the cache's to remove
    assert.equal((await registry.fsck()).ok, true);
    const pulled = join(home, 'pulled');
    await run('skopeo', ['copy', `oci:${registry.root}:clients/share:v${r.version}`, `dir:${pulled}`], { timeoutMs: 300_000 });
    for (const l of r.layers.slice(1)) assert.equal(await sha256File(join(pulled, l.digest.slice(7))), l.digest);
    const co = await registry.checkout(`clients/share:v${r.version}`, join(home, 'co'));
    assert.equal(await readGuest(co.top, '/etc/motd'), 'hello acme-1\n');
    assert.equal(await readGuest(co.top, '/etc/prescient-marker'), `${stamp}\n`);
  });

  test('a home of the old layout keeps working: its layers read, its versions pull and check out', async () => {
    // as builds before issue 16 left them: <key>.qcow2 with an absolute backing path, writable, a record without digest
    const key = layerKey({ parent: base.key, module: 'legacy', moduleVersion: 1, changes: [] }).replace(/^./, '0');
    const legacy = join(p.layers, `${key}.qcow2`);
    await qemuImg.createOverlay(base.path, legacy, { backingFormat: 'qcow2' });
    await withImageSession(legacy, { runtimeDir: paths(shared).runtime }, (s) => s.writeFile('/etc/legacy', 'old order\n'));
    const record = { key, parent: base.key, parentPath: base.path, module: 'legacy', moduleVersion: 1, changes: [], path: legacy, createdAt: new Date().toISOString(), buildMs: 1 };
    await writeFile(join(p.layers, `${key}.json`), JSON.stringify(record));
    assert.equal((await cache.get(key))?.path, legacy);
    const old = await registry.register({ repository: 'clients/legacy', layers: [{ path: base.path }, { path: legacy }], config: {} });
    assert.equal(old.layers[1]!.linked, false, 'a writable file is copied, never linked');
    // both cleanups, then the old version still pulls and checks out
    await cache.gc({ olderThanMs: 0 });
    await registry.gc({ graceMs: 0, leaseMs: 0 });
    await assert.rejects(stat(legacy));
    const pulled = join(home, 'pulled-legacy');
    await run('skopeo', ['copy', `oci:${registry.root}:clients/legacy:v1`, `dir:${pulled}`], { timeoutMs: 300_000 });
    assert.equal(await sha256File(join(pulled, old.layers[1]!.digest.slice(7))), old.layers[1]!.digest);
    const co = await registry.checkout('clients/legacy:v1', join(home, 'co-legacy'));
    assert.equal(await readGuest(co.top, '/etc/legacy'), 'old order\n');
    assert.equal(JSON.parse(await readFile(join(pulled, 'manifest.json'), 'utf8')).layers.length, 2);
  });
});
