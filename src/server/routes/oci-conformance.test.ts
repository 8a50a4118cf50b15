import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { digestOf, sha256Digest } from '../../core/digest.js';
import { checkRegistry, garbageCollect } from '../../registry/maintenance.js';
import { mediaTypes } from '../../registry/media-types.js';
import { openRegistry, type Registry } from '../../registry/registry.js';
import { makeChain } from '../../registry/testing/qcow2-fixtures.js';
import { createApp, listen, type App } from '../app.js';
import { ociRoutes } from './oci.js';

/**
 * The rules of the OCI distribution spec (v1.1, https://github.com/opencontainers/distribution-spec/blob/main/spec.md)
 * that the official conformance suite found us breaking, one test each, named by the spec's section.
 */
interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

async function serve(registry: Registry, options: { deleteBlobs?: boolean } = {}): Promise<{ app: App; call: (method: string, path: string, body?: Buffer | string, headers?: Record<string, string>) => Promise<Reply> }> {
  const app = createApp({ routes: [ociRoutes({ registry, ...options })] });
  const { port } = await listen(app, 0);
  const call = (method: string, path: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method, path, headers: { ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}), ...headers } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      });
      req.on('error', reject);
      req.end(body);
    });
  return { app, call };
}

const codeOf = (r: Reply): string => (JSON.parse(r.body.toString()) as { errors: { code: string }[] }).errors[0]!.code;

describe('OCI distribution-spec conformance rules', () => {
  let dir: string;
  let registry: Registry;
  let app: App;
  let call: Awaited<ReturnType<typeof serve>>['call'];
  const config = Buffer.from('{"architecture":"amd64","os":"linux"}');
  const layer = Buffer.alloc(50_000, 0x5c);
  const upload = async (repo: string, data: Buffer): Promise<void> => {
    const r = await call('POST', `/v2/${repo}/blobs/uploads/?digest=${sha256Digest(data)}`, data, { 'content-type': 'application/octet-stream' });
    assert.equal(r.status, 201, r.body.toString());
  };
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: mediaTypes.ociManifest,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256Digest(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256Digest(layer), size: layer.length }],
    }),
  );

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'prescient-oci-conformance-'));
    registry = await openRegistry({ root: join(dir, 'registry') });
    ({ app, call } = await serve(registry));
  });
  after(async () => {
    await app.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('"Deleting Blobs": 202 for an unreferenced blob (then 404 on GET), 404 for an unknown one', async () => {
    const orphan = Buffer.from('an orphan blob');
    await upload('conf/delete', orphan);
    assert.equal((await call('GET', `/v2/conf/delete/blobs/${sha256Digest(orphan)}`)).status, 200);
    const del = await call('DELETE', `/v2/conf/delete/blobs/${sha256Digest(orphan)}`);
    assert.equal(del.status, 202, del.body.toString());
    const gone = await call('GET', `/v2/conf/delete/blobs/${sha256Digest(orphan)}`);
    assert.equal(gone.status, 404);
    assert.equal(codeOf(gone), 'BLOB_UNKNOWN');
    const unknown = await call('DELETE', `/v2/conf/delete/blobs/${sha256Digest(Buffer.from('never pushed'))}`);
    assert.equal(unknown.status, 404);
    assert.equal(codeOf(unknown), 'BLOB_UNKNOWN');
  });

  test('"Deleting Blobs": 405 when the registry does not allow blob deletion', async () => {
    const other = await serve(registry, { deleteBlobs: false });
    try {
      const r = await other.call('DELETE', `/v2/conf/delete/blobs/${sha256Digest(Buffer.from('x'))}`);
      assert.equal(r.status, 405, r.body.toString());
    } finally {
      await other.app.close();
    }
  });

  test('a blob a manifest still references is not deleted out from under it', async () => {
    await upload('conf/kept', config);
    await upload('conf/kept', layer);
    assert.equal((await call('PUT', '/v2/conf/kept/manifests/one', manifest, { 'content-type': mediaTypes.ociManifest })).status, 201);
    const r = await call('DELETE', `/v2/conf/kept/blobs/${sha256Digest(layer)}`);
    assert.equal(r.status, 403);
    assert.equal((await call('GET', `/v2/conf/kept/blobs/${sha256Digest(layer)}`)).status, 200);
  });

  test('"Pulling manifests": any manifest not found is 404 MANIFEST_UNKNOWN, an invalid tag reference too', async () => {
    for (const ref of ['nosuchtag', '-not-a-valid-tag', 'a'.repeat(129), `sha256:${'0'.repeat(64)}`]) {
      for (const method of ['GET', 'HEAD']) {
        const r = await call(method, `/v2/conf/kept/manifests/${ref}`);
        assert.equal(r.status, 404, `${method} ${ref}`);
        if (method === 'GET') assert.equal(codeOf(r), 'MANIFEST_UNKNOWN', ref);
      }
    }
  });

  test('"Pushing a blob in chunks": an out-of-order closing PUT is 416 and leaves the session open', async () => {
    const start = await call('POST', '/v2/conf/chunks/blobs/uploads/');
    assert.equal(start.status, 202);
    const location = String(start.headers.location);
    assert.equal((await call('PATCH', location, layer.subarray(0, 20_000), { 'content-range': '0-19999', 'content-type': 'application/octet-stream' })).status, 202);
    const rest = layer.subarray(20_000);
    const wrong = await call('PUT', `${location}?digest=${sha256Digest(layer)}`, rest, { 'content-range': `25000-${25_000 + rest.length - 1}`, 'content-type': 'application/octet-stream' });
    assert.equal(wrong.status, 416, wrong.body.toString());
    assert.equal(codeOf(wrong), 'RANGE_INVALID');
    const right = await call('PUT', `${location}?digest=${sha256Digest(layer)}`, rest, { 'content-range': `20000-${layer.length - 1}`, 'content-type': 'application/octet-stream' });
    assert.equal(right.status, 201, right.body.toString());
  });

  test('"Listing Tags": a bad n is 400; n=0 is an empty page', async () => {
    for (const n of ['x', '-1', '1.5', '']) {
      const r = await call('GET', `/v2/conf/kept/tags/list?n=${n}`);
      assert.equal(r.status, 400, `n=${n}: ${r.body.toString()}`);
    }
    const zero = await call('GET', '/v2/conf/kept/tags/list?n=0');
    assert.equal(zero.status, 200);
    assert.deepEqual(JSON.parse(zero.body.toString()).tags, []);
  });

  test('"Listing Tags": a repository OCI clients push lists exactly the tags pushed, no v<n> of ours', async () => {
    assert.equal((await call('PUT', '/v2/conf/kept/manifests/two', manifest, { 'content-type': mediaTypes.ociManifest })).status, 201);
    const tags = JSON.parse((await call('GET', '/v2/conf/kept/tags/list')).body.toString()).tags as string[];
    assert.deepEqual(tags, ['one', 'two']);
    // An image Prescient registers is a version, with its immutable v<n> tag.
    const chain = await makeChain(join(dir, 'chain'), 1);
    await registry.register({ repository: 'conf/ours', layers: chain.files.map((path) => ({ path })), config: {} });
    assert.deepEqual(JSON.parse((await call('GET', '/v2/conf/ours/tags/list')).body.toString()).tags, ['latest', 'v1']);
  });

  // distribution-spec "Pushing blobs" (its {digest} is the image-spec's digest grammar) and image-spec
  // "Digests": sha512 is a registered algorithm, accepted wherever sha256 is, verified, stored under blobs/sha512/.
  describe('sha512 digests end to end (image-spec "Digests"; distribution-spec "Pushing blobs", "Pushing Manifests")', () => {
    const sha512 = (b: Buffer | string): string => digestOf(b, 'sha512');
    const config512 = Buffer.from('{"architecture":"arm64","os":"linux"}');
    const layer512 = Buffer.alloc(70_000, 0x3a);
    const manifest512 = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: mediaTypes.ociManifest,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha512(config512), size: config512.length },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha512(layer512), size: layer512.length }],
      }),
    );

    test('"Pushing a blob monolithically" (POST ?digest=sha512:…): 201 naming the sha512 digest, stored in blobs/sha512/, pulled back with Range', async () => {
      const r = await call('POST', `/v2/conf/sha512/blobs/uploads/?digest=${sha512(config512)}`, config512, { 'content-type': 'application/octet-stream' });
      assert.equal(r.status, 201, r.body.toString());
      assert.equal(r.headers['docker-content-digest'], sha512(config512));
      assert.equal(r.headers.location, `/v2/conf/sha512/blobs/${sha512(config512)}`);
      assert.ok((await stat(join(dir, 'registry', 'blobs', 'sha512', sha512(config512).slice(7)))).isFile());
      await assert.rejects(stat(join(dir, 'registry', 'blobs', 'sha256', sha512(config512).slice(7))));
      // "Pulling blobs": GET and HEAD by the sha512 digest, a Range too.
      const got = await call('GET', `/v2/conf/sha512/blobs/${sha512(config512)}`);
      assert.equal(got.status, 200);
      assert.deepEqual(got.body, config512);
      assert.equal(got.headers['docker-content-digest'], sha512(config512));
      const part = await call('GET', `/v2/conf/sha512/blobs/${sha512(config512)}`, undefined, { range: 'bytes=0-9' });
      assert.equal(part.status, 206);
      assert.deepEqual(part.body, config512.subarray(0, 10));
    });

    test('content that does not hash to the sha512 digest is 400 DIGEST_INVALID and nothing is stored', async () => {
      const liar = sha512('other content');
      const r = await call('POST', `/v2/conf/sha512/blobs/uploads/?digest=${liar}`, config512, { 'content-type': 'application/octet-stream' });
      assert.equal(r.status, 400, r.body.toString());
      assert.equal(codeOf(r), 'DIGEST_INVALID');
      assert.equal((await call('HEAD', `/v2/conf/sha512/blobs/${liar}`)).status, 404);
      // A digest of the wrong length for its algorithm is no digest.
      const short = await call('GET', `/v2/conf/sha512/blobs/sha512:${'a'.repeat(64)}`);
      assert.equal(short.status, 400);
      assert.equal(codeOf(short), 'DIGEST_INVALID');
    });

    test('"Pushing a blob in chunks" closed with a sha512 digest: verified over the whole upload (a wrong one is 400)', async () => {
      const push = async (digest: string): Promise<Reply> => {
        const start = await call('POST', '/v2/conf/sha512/blobs/uploads/');
        assert.equal(start.status, 202);
        const location = String(start.headers.location);
        assert.equal((await call('PATCH', location, layer512.subarray(0, 30_000), { 'content-range': '0-29999', 'content-type': 'application/octet-stream' })).status, 202);
        return call('PUT', `${location}?digest=${digest}`, layer512.subarray(30_000), { 'content-range': `30000-${layer512.length - 1}`, 'content-type': 'application/octet-stream' });
      };
      const wrong = await push(sha512(layer512.subarray(1)));
      assert.equal(wrong.status, 400, wrong.body.toString());
      assert.equal(codeOf(wrong), 'DIGEST_INVALID');
      const right = await push(sha512(layer512));
      assert.equal(right.status, 201, right.body.toString());
      assert.equal(right.headers['docker-content-digest'], sha512(layer512));
      assert.deepEqual((await call('GET', `/v2/conf/sha512/blobs/${sha512(layer512)}`)).body, layer512);
    });

    test('"Pushing Manifests" by a sha512 reference: verified, answered and pulled by that digest; by tag its digest is sha256 (canonical)', async () => {
      const ref = sha512(manifest512);
      const bad = await call('PUT', `/v2/conf/sha512/manifests/${sha512(Buffer.concat([manifest512, Buffer.from(' ')]))}`, manifest512, { 'content-type': mediaTypes.ociManifest });
      assert.equal(bad.status, 400, bad.body.toString());
      assert.equal(codeOf(bad), 'DIGEST_INVALID');
      const put = await call('PUT', `/v2/conf/sha512/manifests/${ref}`, manifest512, { 'content-type': mediaTypes.ociManifest });
      assert.equal(put.status, 201, put.body.toString());
      assert.equal(put.headers['docker-content-digest'], ref);
      assert.equal(put.headers.location, `/v2/conf/sha512/manifests/${ref}`);
      for (const method of ['GET', 'HEAD']) {
        const got = await call(method, `/v2/conf/sha512/manifests/${ref}`);
        assert.equal(got.status, 200, `${method}: ${got.body.toString()}`);
        assert.equal(got.headers['docker-content-digest'], ref);
        if (method === 'GET') assert.deepEqual(got.body, manifest512);
      }
      const tagged = await call('PUT', '/v2/conf/sha512/manifests/arm', manifest512, { 'content-type': mediaTypes.ociManifest });
      assert.equal(tagged.status, 201);
      assert.equal(tagged.headers['docker-content-digest'], sha256Digest(manifest512));
    });

    test('"Mounting a blob from another repository", "Listing Referrers" and "Deleting Blobs" take sha512 digests too', async () => {
      const mount = await call('POST', `/v2/conf/sha512-mounted/blobs/uploads/?mount=${sha512(layer512)}&from=conf/sha512`);
      assert.equal(mount.status, 201, mount.body.toString());
      assert.equal(mount.headers['docker-content-digest'], sha512(layer512));
      // A referrer whose subject is named by its sha512 digest.
      const empty = Buffer.from('{}');
      assert.equal((await call('POST', `/v2/conf/sha512/blobs/uploads/?digest=${sha512(empty)}`, empty, { 'content-type': 'application/octet-stream' })).status, 201);
      const referrer = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: mediaTypes.ociManifest,
          artifactType: 'application/vnd.example.sbom',
          config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha512(empty), size: 2 },
          layers: [{ mediaType: 'application/vnd.oci.empty.v1+json', digest: sha512(empty), size: 2 }],
          subject: { mediaType: mediaTypes.ociManifest, digest: sha512(manifest512), size: manifest512.length },
        }),
      );
      const put = await call('PUT', `/v2/conf/sha512/manifests/${sha512(referrer)}`, referrer, { 'content-type': mediaTypes.ociManifest });
      assert.equal(put.status, 201, put.body.toString());
      assert.equal(put.headers['oci-subject'], sha512(manifest512));
      const list = await call('GET', `/v2/conf/sha512/referrers/${sha512(manifest512)}`);
      assert.equal(list.status, 200, list.body.toString());
      assert.deepEqual((JSON.parse(list.body.toString()) as { manifests: { digest: string; artifactType: string }[] }).manifests.map((m) => [m.digest, m.artifactType]), [[sha512(referrer), 'application/vnd.example.sbom']]);
      const orphan = Buffer.from('a sha512 orphan');
      assert.equal((await call('POST', `/v2/conf/sha512/blobs/uploads/?digest=${sha512(orphan)}`, orphan, { 'content-type': 'application/octet-stream' })).status, 201);
      assert.equal((await call('DELETE', `/v2/conf/sha512/blobs/${sha512(orphan)}`)).status, 202);
      assert.equal((await call('GET', `/v2/conf/sha512/blobs/${sha512(orphan)}`)).status, 404);
      assert.equal((await call('DELETE', `/v2/conf/sha512/blobs/${sha512(layer512)}`)).status, 403, 'still referenced by a manifest');
    });

    test('the layout with sha512 blobs: fsck verifies them by their own algorithm; gc keeps what manifests reference', async () => {
      const fsck = await checkRegistry(registry);
      assert.equal(fsck.ok, true, JSON.stringify(fsck.problems));
      assert.ok(fsck.blobsChecked >= 5);
      const gc = await garbageCollect(registry, { graceMs: 0, leaseMs: 0 });
      assert.ok(!gc.removed.some((r) => r.digest === sha512(layer512) || r.digest === sha512(manifest512) || r.digest === sha512(config512)), JSON.stringify(gc.removed));
      assert.equal((await call('GET', `/v2/conf/sha512/manifests/${sha512(manifest512)}`)).status, 200);
      assert.deepEqual((await call('GET', `/v2/conf/sha512/blobs/${sha512(layer512)}`)).body, layer512);
      // A sha512 blob nothing references goes, as a sha256 one would.
      const loose = Buffer.from('loose sha512 blob');
      await registry.layout.putBlobBytes(loose, { digest: digestOf(loose, 'sha512') });
      const gc2 = await garbageCollect(registry, { graceMs: 0, leaseMs: 0 });
      assert.ok(gc2.removed.some((r) => r.digest === digestOf(loose, 'sha512')), JSON.stringify(gc2.removed));
    });
  });
});
