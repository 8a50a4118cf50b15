import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sha256Digest } from '../../core/digest.js';
import { run } from '../../core/exec.js';
import { createApp, listen, type App } from '../app.js';
import { ociRoutes } from './oci.js';
import { exportContainerDisk } from '../../registry/export.js';
import { openRegistry, type Registry } from '../../registry/registry.js';
import { pullImage, pushImage } from '../../registry/remote.js';
import { hasDockerRegistry, startDockerRegistry, type RunningRegistry } from '../../registry/testing/docker-registry.js';
import { addOverlay, makeChain, readsPattern, type FixtureChain } from '../../registry/testing/qcow2-fixtures.js';

const skip = !(await hasDockerRegistry()) && 'skopeo and docker-registry are needed (scripts/debian-packages.txt)';

describe('interoperability with skopeo and Debian docker-registry', { skip }, () => {
  let dir: string;
  let registry: Registry;
  let server: App;
  let ours: string;
  let theirs: RunningRegistry;
  let chain: FixtureChain;
  let v1: string;
  let v2: string;

  const skopeo = async (...args: string[]): Promise<string> => (await run('skopeo', args, { timeoutMs: 120_000 })).stdout;
  const rawManifest = async (ref: string): Promise<Buffer> => Buffer.from(await skopeo('inspect', '--raw', '--tls-verify=false', ref));

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'prescient-interop-'));
    registry = await openRegistry({ root: join(dir, 'registry') });
    chain = await makeChain(join(dir, 'layers'), 3, { writeMiB: 2 });
    v1 = (await registry.register({ repository: 'clients/acme', layers: chain.files.slice(0, 2).map((path) => ({ path })), config: { plan: [] } })).digest;
    v2 = (await registry.register({ repository: 'clients/acme', layers: chain.files.map((path) => ({ path })), config: { plan: [{ kind: 'packages.install', packages: ['nginx'] }] } })).digest;
    server = createApp({ routes: [ociRoutes({ registry })] });
    ours = `127.0.0.1:${(await listen(server, 0)).port}`;
    theirs = await startDockerRegistry(join(dir, 'docker-registry'));
  });
  after(async () => {
    await theirs?.stop();
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('our server → OCI directory → docker-registry → our server: the same digests end to end, the chain intact', async () => {
    const ociDir = join(dir, 'oci-dir');
    await skopeo('copy', '--src-tls-verify=false', `docker://${ours}/clients/acme:latest`, `oci:${ociDir}:acme`);
    const index = JSON.parse(await readFile(join(ociDir, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    assert.equal(index.manifests[0]!.digest, v2);
    // stored overlays name their parent blob by digest, so the chain opens inside any OCI layout
    const m = await registry.imageManifest(v2 as `sha256:${string}`);
    const top = join(ociDir, 'blobs', 'sha256', m.layers[2]!.digest.slice(7));
    const inPlace = JSON.parse((await run('qemu-img', ['info', '--output=json', '--backing-chain', top])).stdout) as unknown[];
    assert.equal(inPlace.length, 3);

    await skopeo('copy', '--dest-tls-verify=false', `oci:${ociDir}:acme`, `docker://${theirs.address}/clients/acme:v2`);
    assert.equal(sha256Digest(await rawManifest(`docker://${theirs.address}/clients/acme:v2`)), v2);

    await skopeo('copy', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${theirs.address}/clients/acme:v2`, `docker://${ours}/clients/returned:latest`);
    assert.equal(sha256Digest(await rawManifest(`docker://${ours}/clients/returned:latest`)), v2);
    assert.equal((await registry.resolve('clients/returned', 'latest')).digest, v2);
    const back = await registry.imageManifest(v2 as `sha256:${string}`);
    assert.deepEqual(back.layers.map((l) => l.digest), m.layers.map((l) => l.digest));

    const co = await registry.checkout('clients/returned:latest', join(dir, 'returned'));
    const chainInfo = JSON.parse((await run('qemu-img', ['info', '--output=json', '--backing-chain', co.top])).stdout) as unknown[];
    assert.equal(chainInfo.length, 3);
    for (const [i, p] of chain.patterns.entries()) assert.ok(await readsPattern(co.top, p, i * 2, 2), `layer ${i} reads back`);
    assert.equal((await registry.fsck()).ok, true);
  });

  test('after a rollback, a pull returns the earlier version’s exact digest', async () => {
    await registry.rollback('clients/acme');
    assert.equal(sha256Digest(await rawManifest(`docker://${ours}/clients/acme:latest`)), v1);
    const out = join(dir, 'after-rollback');
    await skopeo('copy', '--src-tls-verify=false', `docker://${ours}/clients/acme:latest`, `oci:${out}:x`);
    const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    assert.equal(index.manifests[0]!.digest, v1);
    await registry.rollback('clients/acme', { to: 2 });
  });

  test('skopeo reads the store itself as an OCI layout (oci:<root>:<repository>:<tag>)', async () => {
    await skopeo('copy', `oci:${registry.root}:clients/acme:v1`, `oci:${join(dir, 'direct')}:v1`);
    const index = JSON.parse(await readFile(join(dir, 'direct', 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    assert.equal(index.manifests[0]!.digest, v1);
  });

  test('a containerDisk export is an ordinary OCI image that docker-registry accepts', async () => {
    const cd = await exportContainerDisk(registry, 'clients/acme:v1', join(dir, 'cd'), { name: 'acme' });
    await skopeo('copy', '--preserve-digests', '--dest-tls-verify=false', `oci:${cd.layout}:${cd.refName}`, `docker://${theirs.address}/disks/acme:v1`);
    const inspected = JSON.parse(await skopeo('inspect', '--tls-verify=false', `docker://${theirs.address}/disks/acme:v1`)) as { Digest: string; Os: string; Architecture: string };
    assert.equal(inspected.Digest, cd.digest);
    assert.deepEqual([inspected.Os, inspected.Architecture], ['linux', 'amd64']);
  });

  test('prescient push and pull to another registry keep the digest and rebuild the backing chain', async () => {
    const pushed = await pushImage(registry, 'clients/acme:v2', `${theirs.address}/mirror/acme:v2`, { insecure: true });
    assert.equal(pushed.digest, v2);
    const other = await openRegistry({ root: join(dir, 'other-registry') });
    const pulled = await pullImage(other, `${theirs.address}/mirror/acme:v2`, 'clients/acme', 'latest', { insecure: true });
    assert.equal(pulled.digest, v2);
    assert.equal(pulled.version, 1);
    const co = await other.checkout('clients/acme:latest', join(dir, 'pulled'));
    for (const [i, p] of chain.patterns.entries()) assert.ok(await readsPattern(co.top, p, i * 2, 2));
    // a new version pushed and pulled again shares the layers already there
    const longer = await addOverlay(chain, join(dir, 'layers', 'l3.qcow2'), 0x42, 9);
    await registry.register({ repository: 'clients/acme', layers: longer.files.map((path) => ({ path })), config: {} });
    await pushImage(registry, 'clients/acme:latest', `${theirs.address}/mirror/acme:v3`, { insecure: true });
    const before = (await other.layout.listBlobs()).length;
    const again = await pullImage(other, `${theirs.address}/mirror/acme:v3`, 'clients/acme', 'latest', { insecure: true });
    assert.equal(again.version, 2);
    assert.equal((await other.layout.listBlobs()).length, before + 3, 'one new layer, its config and its manifest');
  });
});
