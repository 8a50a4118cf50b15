import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { run } from '../core/exec.js';
import { exportContainerDisk, exportFlat } from './export.js';
import { annotations } from '../contracts/annotations.js';
import { mediaTypes } from './media-types.js';
import { openRegistry, type Registry } from './registry.js';
import { addOverlay, makeChain, readsPattern, type FixtureChain } from './testing/qcow2-fixtures.js';

describe('registry', () => {
  let dir: string;
  let registry: Registry;
  let chain: FixtureChain;
  const config1 = { plan: [{ kind: 'packages.install', packages: ['nginx'] }, { kind: 'file.write', path: '/etc/motd', content: 'a' }], vmSpec: { cpus: 2, memoryMiB: 2048 }, usageVector: { datasets: [{ name: 'sales' }] }, model: 'lstm@1' };
  const config2 = { plan: [{ kind: 'packages.install', packages: ['nginx', 'redis'] }, { kind: 'file.write', path: '/etc/motd', content: 'b' }], vmSpec: { cpus: 4, memoryMiB: 2048 }, usageVector: { datasets: [] }, model: 'lstm@2' };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'prescient-registry-'));
    registry = await openRegistry({ root: join(dir, 'registry') });
    chain = await makeChain(join(dir, 'layers'), 3);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('the store is an OCI image layout', async () => {
    assert.deepEqual(JSON.parse(await (await import('node:fs/promises')).readFile(join(dir, 'registry', 'oci-layout'), 'utf8')), { imageLayoutVersion: '1.0.0' });
    assert.equal((await registry.layout.readIndex()).schemaVersion, 2);
  });

  test('register stores each layer once, shared between versions, and only new bytes are written', async () => {
    const r1 = await registry.register({ repository: 'clients/acme', layers: chain.files.map((path) => ({ path })), config: config1 });
    assert.equal(r1.version, 1);
    assert.deepEqual(r1.tags, ['v1', 'latest']);
    assert.ok(r1.layers.every((l) => !l.reused));
    const layerBytes = r1.layers.reduce((s, l) => s + l.size, 0);
    assert.ok(r1.bytesWritten >= layerBytes);

    chain = await addOverlay(chain, join(dir, 'layers', 'extra.qcow2'), 0x5a, 6);
    const r2 = await registry.register({ repository: 'clients/acme', layers: chain.files.map((path) => ({ path })), config: config2, annotations: { [annotations.baseName]: 'debian-12', [annotations.base]: 'forged' } });
    assert.equal(r2.version, 2);
    assert.deepEqual(r2.layers.map((l) => l.reused), [true, true, true, false]);
    assert.deepEqual(r2.layers.slice(0, 3).map((l) => l.digest), r1.layers.map((l) => l.digest));
    const newLayer = r2.layers[3]!.size;
    assert.ok(r2.bytesWritten >= newLayer && r2.bytesWritten < newLayer + 64 * 1024, `wrote ${r2.bytesWritten}, the new layer is ${newLayer}`);

    const m = await registry.imageManifest(r2.digest);
    assert.equal(m.artifactType, mediaTypes.prescientImage);
    assert.equal(m.config.mediaType, mediaTypes.prescientConfig);
    assert.equal(m.annotations?.[annotations.parent], r1.digest);
    assert.equal(m.annotations?.[annotations.base], r1.layers[0]!.digest, 'the base digest is the registry\'s, never the caller\'s');
    assert.equal(m.annotations?.[annotations.baseName], 'debian-12', 'the base name has a key of its own (it was written over the digest)');
    assert.deepEqual(await registry.config(r2.digest), config2);
  });

  test('a stored overlay names its parent blob as backing file; the source files are untouched', async () => {
    const m = await registry.imageManifest((await registry.resolveRef('clients/acme:v2')).digest);
    const info = JSON.parse((await run('qemu-img', ['info', '--output=json', registry.layout.blobPath(m.layers[2]!.digest)])).stdout) as Record<string, string>;
    assert.equal(info['backing-filename'], m.layers[1]!.digest.slice(7));
    const src = JSON.parse((await run('qemu-img', ['info', '--output=json', chain.files[2]!])).stdout) as Record<string, string>;
    assert.equal(src['backing-filename'], chain.files[1]);
  });

  test('checkout rebuilds an openable chain whose every layer reads back', async () => {
    const co = await registry.checkout('clients/acme:v2', join(dir, 'co'));
    assert.equal(co.files.length, 4);
    const chainInfo = JSON.parse((await run('qemu-img', ['info', '--output=json', '--backing-chain', co.top])).stdout) as unknown[];
    assert.equal(chainInfo.length, 4);
    for (const [i, p] of chain.patterns.entries()) assert.ok(await readsPattern(co.top, p, i === 3 ? 6 : i), `layer ${i}`);
    assert.equal(await readsPattern(co.top, 0x99, 0), false, 'a wrong pattern must not read back');
  });

  test('rollback moves latest to the earlier version without copying anything', async () => {
    const before = (await registry.layout.listBlobs()).length;
    const v1 = (await registry.resolveRef('clients/acme:v1')).digest;
    const r = await registry.rollback('clients/acme');
    assert.equal(r.to, v1);
    assert.equal(r.version, 1);
    assert.equal((await registry.resolveRef('clients/acme:latest')).digest, v1);
    assert.equal((await registry.layout.listBlobs()).length, before);
    await assert.rejects(registry.rollback('clients/acme'), /oldest version/);
    await registry.rollback('clients/acme', { to: 2 });
    assert.equal((await registry.resolveRef('clients/acme')).digest, (await registry.resolveRef('clients/acme:v2')).digest);
  });

  test('version tags never move', async () => {
    await assert.rejects(registry.tag('clients/acme:v2', 'v1'), /version tag/);
    await registry.tag('clients/acme:v1', 'stable');
    assert.equal((await registry.resolveRef('clients/acme:stable')).digest, (await registry.resolveRef('clients/acme:v1')).digest);
  });

  test('diff names packages, files, data and resources that changed', async () => {
    const d = await registry.diff('clients/acme:v1', 'clients/acme:v2');
    assert.deepEqual(d.packages, { added: ['redis'], removed: [] });
    assert.deepEqual(d.files.changed, ['/etc/motd']);
    assert.deepEqual(d.data, { added: [], removed: ['sales'] });
    assert.deepEqual(d.resources, [{ path: 'vmSpec.cpus', from: 2, to: 4 }]);
    assert.equal(d.layers.added.length, 1);
    assert.equal(d.layers.shared, 3);
    assert.deepEqual(d.other, [{ path: 'model', from: 'lstm@1', to: 'lstm@2' }]);
  });

  test('gc keeps every referenced version and leased pull, removes only what nothing references', async () => {
    const v1 = await registry.show('clients/acme:v1');
    const v2 = await registry.show('clients/acme:v2');
    const top2 = v2.manifest.layers[3]!.digest;
    // an orphan blob (an abandoned upload), old enough to be outside the grace period
    const orphan = await registry.layout.putBlobBytes(Buffer.from('orphan'));
    const old = new Date(Date.now() - 2 * 3600 * 1000);
    await (await import('node:fs/promises')).utimes(registry.layout.blobPath(orphan.digest), old, old);
    const r = await registry.gc({ leaseMs: 0 });
    assert.deepEqual(r.removed.map((x) => x.digest), [orphan.digest]);

    // remove v2: refused while `latest` names it, then with force
    await assert.rejects(registry.remove('clients/acme:v2'), /still named by clients\/acme:latest/);
    await registry.rollback('clients/acme', { to: 1 });
    await registry.remove('clients/acme:v2');
    // a pull in progress (lease) keeps v2's blobs
    await registry.lease(v2.digest);
    assert.equal((await registry.gc({ graceMs: 0 })).removed.length, 0);
    const r2 = await registry.gc({ graceMs: 0, leaseMs: 0 });
    const removed = r2.removed.map((x) => x.digest);
    assert.ok(removed.includes(top2) && removed.includes(v2.digest));
    for (const l of v1.manifest.layers) assert.ok(!removed.includes(l.digest), 'v1 layers are kept');
    assert.equal((await registry.fsck()).ok, true);
    const co = await registry.checkout('clients/acme:latest', join(dir, 'co-after-gc'));
    assert.ok(await readsPattern(co.top, chain.patterns[2]!, 2));
  });

  test('fsck finds a corrupted blob and a missing one', async () => {
    const scratch = await openRegistry({ root: join(dir, 'scratch') });
    const r = await scratch.register({ repository: 'clients/x', layers: chain.files.slice(0, 2).map((path) => ({ path })), config: {} });
    assert.equal((await scratch.fsck()).ok, true);
    await appendFile(scratch.layout.blobPath(r.layers[0]!.digest), 'x');
    await rm(scratch.layout.blobPath(r.layers[1]!.digest));
    const f = await scratch.fsck();
    assert.equal(f.ok, false);
    assert.deepEqual(f.problems.map((p) => p.kind).sort(), ['bad-manifest', 'digest-mismatch', 'missing-blob']);
  });

  test('a blob whose content does not match its declared digest is never stored', async () => {
    const before = await registry.layout.listBlobs();
    await assert.rejects(registry.layout.putBlobBytes(Buffer.from('hello'), { digest: `sha256:${'0'.repeat(64)}` }), /DIGEST|digest/);
    await assert.rejects(registry.layout.putBlobBytes(Buffer.from('hello'), { size: 4 }), /declared/);
    assert.deepEqual(await registry.layout.listBlobs(), before);
    assert.deepEqual(await readdir(registry.layout.tmpDir), []);
  });

  test('register rejects bad input naming the field', async () => {
    await assert.rejects(registry.register({ repository: 'Clients/ACME', layers: [{ path: chain.files[0]! }], config: {} }), /repository/);
    await assert.rejects(registry.register({ repository: 'clients/acme', layers: [{ path: chain.files[1]! }], config: {} }), /layers\[0\]\.path: the base layer has a backing file/);
    await assert.rejects(registry.register({ repository: 'clients/acme', layers: [{ path: chain.files[0]! }, { path: chain.files[2]! }], config: {} }), /layers\[1\]\.path: is backed by/);
    await writeFile(join(dir, 'not-an-image'), 'x');
    await assert.rejects(registry.register({ repository: 'clients/acme', layers: [{ path: join(dir, 'not-an-image') }], config: {} }), /layers\[0\]\.path/);
    await assert.rejects(registry.register({ repository: 'clients/acme', layers: [{ path: chain.files[0]! }], config: {}, tags: ['v9'] }), /tags\[0\]/);
  });

  test('export: a flat qcow2 that qemu-img check passes, and a containerDisk with disk/<name>.qcow2 owned 107:107', async () => {
    const flat = await exportFlat(registry, 'clients/acme:v1', join(dir, 'out', 'flat.qcow2'));
    const info = JSON.parse((await run('qemu-img', ['info', '--output=json', flat.path])).stdout) as Record<string, unknown>;
    assert.equal(info['backing-filename'], undefined);
    await run('qemu-img', ['check', flat.path]);
    for (const [i, p] of chain.patterns.slice(0, 3).entries()) assert.ok(await readsPattern(flat.path, p, i));

    const cd = await exportContainerDisk(registry, 'clients/acme:v1', join(dir, 'out', 'cd'), { name: 'acme' });
    const layout = await (await import('./oci-layout.js')).OciLayout.open(cd.layout);
    const manifest = JSON.parse((await layout.readBlob(cd.digest)).toString()) as { config: { mediaType: string }; layers: { digest: `sha256:${string}`; mediaType: string }[] };
    assert.equal(manifest.config.mediaType, mediaTypes.ociImageConfig);
    assert.equal(manifest.layers[0]!.mediaType, mediaTypes.ociLayerTarGzip);
    const blob = layout.blobPath(manifest.layers[0]!.digest);
    const listing = (await run('tar', ['--numeric-owner', '-tzvf', blob])).stdout;
    assert.match(listing, /107\/107 +\d+ .* disk\/acme\.qcow2/);
    // the config's diff_id is the digest of the uncompressed tar, and it says when the version was made
    const config = JSON.parse((await layout.readBlob((manifest as unknown as { config: { digest: `sha256:${string}` } }).config.digest)).toString()) as { created: string; rootfs: { diff_ids: string[] } };
    const tarSha = (await run('sh', ['-c', `gzip -dc ${blob} | sha256sum`])).stdout.split(' ')[0];
    assert.deepEqual(config.rootfs.diff_ids, [`sha256:${tarSha}`]);
    assert.ok(!Number.isNaN(Date.parse(config.created)));
    assert.equal(cd.layerBytes, (await stat(blob)).size);
    // the extracted disk is the flat export, byte for byte
    const x = join(dir, 'out', 'x');
    await (await import('node:fs/promises')).mkdir(x);
    await run('tar', ['-xzf', blob, '-C', x]);
    assert.equal((await run('cmp', [join(x, 'disk', 'acme.qcow2'), flat.path], { allowFailure: true })).exitCode, 0);
  });
});

describe('registry: a layer already stored is not written again, even from another file', () => {
  test('copies of stored layers at new paths cost no writes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'prescient-registry-copy-'));
    try {
      const registry = await openRegistry({ root: join(dir, 'registry') });
      const chain = await makeChain(join(dir, 'a'), 2);
      const r1 = await registry.register({ repository: 'clients/a', layers: chain.files.map((path) => ({ path })), config: {} });
      // the same chain in another folder (another layer cache): overlay rebased onto the moved base
      const { copyFile } = await import('node:fs/promises');
      await (await import('node:fs/promises')).mkdir(join(dir, 'b'));
      await copyFile(chain.files[0]!, join(dir, 'b', 'base.qcow2'));
      await copyFile(chain.files[1]!, join(dir, 'b', 'top.qcow2'));
      await run('qemu-img', ['rebase', '-u', '-b', join(dir, 'b', 'base.qcow2'), '-F', 'qcow2', join(dir, 'b', 'top.qcow2')]);
      const r2 = await registry.register({ repository: 'clients/a', layers: [{ path: join(dir, 'b', 'base.qcow2') }, { path: join(dir, 'b', 'top.qcow2') }], config: {} });
      assert.equal(r2.layers[0]!.digest, r1.layers[0]!.digest);
      assert.equal(r2.layers[0]!.reused, true);
      // the moved overlay names another backing path, yet stores as the same blob
      assert.equal(r2.layers[1]!.digest, r1.layers[1]!.digest);
      assert.ok(r2.bytesWritten < 4096, `wrote ${r2.bytesWritten}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
