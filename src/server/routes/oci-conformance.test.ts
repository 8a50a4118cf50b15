import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sha256Digest } from '../../core/digest.js';
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
});
