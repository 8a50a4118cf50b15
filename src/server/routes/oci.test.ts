import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sha256Digest } from '../../core/digest.js';
import { AppError } from '../../core/errors.js';
import { openRegistry, type Registry } from '../../registry/registry.js';
import { mediaTypes } from '../../registry/media-types.js';
import { createApp, listen, type App } from '../app.js';
import { ociRoutes } from './oci.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  json: () => { errors?: { code: string; message: string }[] } & Record<string, unknown>;
}

describe('OCI distribution routes', () => {
  let dir: string;
  let registry: Registry;
  let server: App;
  let port: number;
  const denied = new Set<string>();

  /** Raw requests: the path is sent exactly as written (fetch would normalise `..`). */
  const call = (method: string, path: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method, path, headers: { ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}), ...headers } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const b = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b, json: () => JSON.parse(b.toString()) });
        });
      });
      req.on('error', reject);
      req.end(body);
    });

  const snapshot = async (): Promise<string> => JSON.stringify([await registry.layout.listBlobs(), await readFile(join(registry.root, 'index.json'), 'utf8')]);
  const ociError = (r: Reply, status: number, code: string): void => {
    assert.equal(r.status, status, r.body.toString());
    const j = r.json();
    assert.ok(Array.isArray(j.errors) && j.errors.length === 1, r.body.toString());
    assert.equal(j.errors[0]!.code, code);
    assert.equal(typeof j.errors[0]!.message, 'string');
  };
  const push = async (repo: string, data: Buffer): Promise<void> => {
    const r = await call('POST', `/v2/${repo}/blobs/uploads/?digest=${sha256Digest(data)}`, data, { 'content-type': 'application/octet-stream' });
    assert.equal(r.status, 201, r.body.toString());
  };
  const manifestFor = (config: Buffer, layers: Buffer[], extra: Record<string, unknown> = {}): Buffer =>
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: mediaTypes.ociManifest,
        artifactType: mediaTypes.prescientImage,
        config: { mediaType: mediaTypes.prescientConfig, digest: sha256Digest(config), size: config.length },
        layers: layers.map((l) => ({ mediaType: mediaTypes.prescientLayer, digest: sha256Digest(l), size: l.length })),
        ...extra,
      }),
    );

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'prescient-oci-'));
    registry = await openRegistry({ root: join(dir, 'registry') });
    server = createApp({
      routes: [
        ociRoutes({
          registry,
          authorize: ({ repository, action }) => {
            if (repository && denied.has(`${repository}:${action}`)) throw new AppError('UNAUTHORIZED', 'token required', { details: { wwwAuthenticate: 'Bearer realm="test"' } });
          },
        }),
      ],
    });
    port = (await listen(server, 0)).port;
  });
  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const config = Buffer.from('{"model":"m"}');
  const layerA = Buffer.alloc(300_000, 0xa1);
  const layerB = Buffer.alloc(200_000, 0xb2);

  test('the base endpoint answers with the API version header', async () => {
    const r = await call('GET', '/v2/');
    assert.equal(r.status, 200);
    assert.equal(r.headers['docker-distribution-api-version'], 'registry/2.0');
  });

  test('push: monolithic and chunked uploads, then a manifest by tag; pull it back', async () => {
    await push('clients/acme', config);
    await push('clients/acme', layerA);
    // chunked: POST, PATCH twice with Content-Range, PUT with the digest
    const start = await call('POST', '/v2/clients/acme/blobs/uploads/');
    assert.equal(start.status, 202);
    const location = String(start.headers.location);
    const p1 = await call('PATCH', location, layerB.subarray(0, 100_000), { 'content-range': '0-99999', 'content-type': 'application/octet-stream' });
    assert.equal(p1.status, 202);
    assert.equal(p1.headers.range, '0-99999');
    const outOfOrder = await call('PATCH', location, layerB.subarray(0, 10), { 'content-range': '5-14' });
    ociError(outOfOrder, 416, 'RANGE_INVALID');
    await call('PATCH', location, layerB.subarray(100_000), { 'content-range': `100000-${layerB.length - 1}` });
    const done = await call('PUT', `${location}?digest=${sha256Digest(layerB)}`);
    assert.equal(done.status, 201, done.body.toString());
    assert.equal(done.headers['docker-content-digest'], sha256Digest(layerB));

    const manifest = manifestFor(config, [layerA, layerB]);
    const put = await call('PUT', '/v2/clients/acme/manifests/latest', manifest, { 'content-type': mediaTypes.ociManifest });
    assert.equal(put.status, 201, put.body.toString());
    assert.equal(put.headers['docker-content-digest'], sha256Digest(manifest));
    const got = await call('GET', '/v2/clients/acme/manifests/latest');
    assert.equal(got.status, 200);
    assert.equal(got.headers['content-type'], mediaTypes.ociManifest);
    assert.deepEqual(got.body, manifest);
    const byDigest = await call('HEAD', `/v2/clients/acme/manifests/${sha256Digest(manifest)}`);
    assert.equal(byDigest.status, 200);
    assert.equal(byDigest.headers['content-length'], String(manifest.length));
    const blob = await call('GET', `/v2/clients/acme/blobs/${sha256Digest(layerB)}`);
    assert.deepEqual(blob.body, layerB);
    // what an OCI client pushes is not one of our versions: it keeps exactly the tags pushed
    assert.deepEqual((await registry.versions('clients/acme')).map((v) => v.version), []);
  });

  test('blobs honour Range', async () => {
    const path = `/v2/clients/acme/blobs/${sha256Digest(layerA)}`;
    const part = await call('GET', path, undefined, { range: 'bytes=10-19' });
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-range'], `bytes 10-19/${layerA.length}`);
    assert.deepEqual(part.body, layerA.subarray(10, 20));
    const tail = await call('GET', path, undefined, { range: 'bytes=-5' });
    assert.deepEqual(tail.body, layerA.subarray(layerA.length - 5));
    ociError(await call('GET', path, undefined, { range: `bytes=${layerA.length}-` }), 416, 'RANGE_INVALID');
  });

  test('tags/list paginates; referrers lists manifests whose subject is the image', async () => {
    const digest = (await registry.resolve('clients/acme', 'latest')).digest;
    await call('PUT', `/v2/clients/acme/manifests/stable`, (await call('GET', '/v2/clients/acme/manifests/latest')).body, { 'content-type': mediaTypes.ociManifest });
    const all = (await call('GET', '/v2/clients/acme/tags/list')).json();
    assert.deepEqual(all, { name: 'clients/acme', tags: ['latest', 'stable'] });
    const page = await call('GET', '/v2/clients/acme/tags/list?n=1');
    assert.deepEqual(page.json().tags, ['latest']);
    assert.match(String(page.headers.link), /last=latest>; rel="next"/);
    assert.deepEqual((await call('GET', '/v2/clients/acme/tags/list?n=1&last=latest')).json().tags, ['stable']);

    const emptyConfig = Buffer.from('{}');
    await push('clients/acme', emptyConfig);
    const sbom = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: mediaTypes.ociManifest,
        artifactType: 'application/spdx+json',
        config: { mediaType: mediaTypes.ociEmpty, digest: sha256Digest(emptyConfig), size: 2 },
        layers: [],
        subject: { mediaType: mediaTypes.ociManifest, digest, size: (await registry.resolve('clients/acme', 'latest')).size },
      }),
    );
    const put = await call('PUT', `/v2/clients/acme/manifests/${sha256Digest(sbom)}`, sbom, { 'content-type': mediaTypes.ociManifest });
    assert.equal(put.status, 201, put.body.toString());
    assert.equal(put.headers['oci-subject'], digest);
    const refs = (await call('GET', `/v2/clients/acme/referrers/${digest}`)).json() as unknown as { manifests: { digest: string; artifactType: string }[] };
    assert.deepEqual(refs.manifests.map((m) => [m.digest, m.artifactType]), [[sha256Digest(sbom), 'application/spdx+json']]);
    const filtered = (await call('GET', `/v2/clients/acme/referrers/${digest}?artifactType=x/y`)).json() as unknown as { manifests: unknown[] };
    assert.equal(filtered.manifests.length, 0);
    // a referrer pushed by digest is not a version either
    assert.equal((await registry.versions('clients/acme')).length, 0);
  });

  test('cross-repository mount links a blob without copying it', async () => {
    const before = (await registry.layout.listBlobs()).length;
    const missing = await call('HEAD', `/v2/clients/other/blobs/${sha256Digest(layerA)}`);
    assert.equal(missing.status, 404);
    const m = await call('POST', `/v2/clients/other/blobs/uploads/?mount=${sha256Digest(layerA)}&from=clients/acme`);
    assert.equal(m.status, 201);
    assert.equal((await call('HEAD', `/v2/clients/other/blobs/${sha256Digest(layerA)}`)).status, 200);
    // mounting from a repository that does not hold the blob starts an ordinary upload
    const no = await call('POST', `/v2/clients/third/blobs/uploads/?mount=${sha256Digest(layerA)}&from=clients/nowhere`);
    assert.equal(no.status, 202);
    assert.equal((await registry.layout.listBlobs()).length, before);
  });

  test('a manifest may reference only blobs of its own repository; tags/list?n=x is 400 (finding 10)', async () => {
    const secret = Buffer.from('a layer only clients/owner holds');
    const cfg = Buffer.from('{"model":"owner"}');
    await push('clients/owner', secret);
    await push('clients/owner', cfg);
    // Knowing the digests is not enough to make them part of another repository.
    const stolen = await call('PUT', '/v2/clients/thief/manifests/latest', manifestFor(cfg, [secret]), { 'content-type': mediaTypes.ociManifest });
    ociError(stolen, 400, 'MANIFEST_BLOB_UNKNOWN');
    assert.match(stolen.body.toString(), /blob-linked-to-repository/);
    ociError(await call('GET', `/v2/clients/thief/blobs/${sha256Digest(secret)}`), 404, 'BLOB_UNKNOWN');
    // The owner may; and a mount from a repository one may pull links it legitimately.
    assert.equal((await call('PUT', '/v2/clients/owner/manifests/latest', manifestFor(cfg, [secret]), { 'content-type': mediaTypes.ociManifest })).status, 201);
    const n = await call('GET', '/v2/clients/owner/tags/list?n=x');
    ociError(n, 400, 'PAGINATION_NUMBER_INVALID');
    ociError(await call('GET', '/v2/clients/owner/tags/list?n=-1'), 400, 'PAGINATION_NUMBER_INVALID');
    // A blob a manifest of the repository references is not deleted (standards' DELETE refuses it).
    ociError(await call('DELETE', `/v2/clients/owner/blobs/${sha256Digest(secret)}`), 403, 'DENIED');
  });

  test('upload sessions expire: an old session is unknown, and the next start removes its files (finding 10)', async () => {
    const short = createApp({ routes: [ociRoutes({ registry, uploadSessionTtlMs: 300 })] });
    const base = `http://127.0.0.1:${(await listen(short, 0)).port}`;
    try {
      const s = await fetch(`${base}/v2/clients/slow/blobs/uploads/`, { method: 'POST' });
      assert.equal(s.status, 202);
      const location = String(s.headers.get('location'));
      const id = location.split('/').at(-1)!;
      assert.equal((await fetch(`${base}${location}`, { method: 'PATCH', body: 'part one' })).status, 202);
      await new Promise((r) => setTimeout(r, 400));
      const late = await fetch(`${base}${location}`, { method: 'PATCH', body: 'part two' });
      assert.equal(late.status, 404);
      assert.match(await late.text(), /BLOB_UPLOAD_UNKNOWN.*expired/);
      // A session nobody comes back to is swept by the next start.
      const abandoned = String((await fetch(`${base}/v2/clients/slow/blobs/uploads/`, { method: 'POST' })).headers.get('location')).split('/').at(-1)!;
      await new Promise((r) => setTimeout(r, 400));
      assert.equal((await fetch(`${base}/v2/clients/slow/blobs/uploads/`, { method: 'POST' })).status, 202);
      const left = await readdir(join(registry.root, '.uploads'));
      assert.ok(!left.some((f) => f.startsWith(id) || f.startsWith(abandoned)), left.join(' '));
    } finally {
      await short.close();
    }
  });

  test('malformed requests get the OCI error shape and store nothing', async () => {
    const before = await snapshot();
    const data = Buffer.from('some layer bytes');
    // a wrong digest, monolithic and chunked
    ociError(await call('POST', `/v2/clients/acme/blobs/uploads/?digest=${sha256Digest('other')}`, data), 400, 'DIGEST_INVALID');
    const s = await call('POST', '/v2/clients/acme/blobs/uploads/');
    await call('PATCH', String(s.headers.location), data);
    ociError(await call('PUT', `${String(s.headers.location)}?digest=${sha256Digest('other')}`), 400, 'DIGEST_INVALID');
    ociError(await call('GET', String(s.headers.location)), 404, 'BLOB_UPLOAD_UNKNOWN');
    ociError(await call('POST', `/v2/clients/acme/blobs/uploads/?digest=sha256:xyz`, data), 400, 'DIGEST_INVALID');
    // a wrong size: the body is shorter than the manifest says, or than Content-Length says
    const short = manifestFor(config, [layerA.subarray(0, 10)]);
    await push('clients/acme', layerA.subarray(0, 10));
    const withWrongSize = Buffer.from(short.toString().replace('"size":10', '"size":11'));
    ociError(await call('PUT', '/v2/clients/acme/manifests/bad', withWrongSize, { 'content-type': mediaTypes.ociManifest }), 400, 'SIZE_INVALID');
    // a manifest that references missing blobs
    const ghost = manifestFor(config, [Buffer.from('never uploaded')]);
    ociError(await call('PUT', '/v2/clients/acme/manifests/ghost', ghost, { 'content-type': mediaTypes.ociManifest }), 400, 'MANIFEST_BLOB_UNKNOWN');
    // a manifest pushed under a digest that is not its own, and one that is not JSON
    ociError(await call('PUT', `/v2/clients/acme/manifests/${sha256Digest('x')}`, manifestFor(config, [layerA]), { 'content-type': mediaTypes.ociManifest }), 400, 'DIGEST_INVALID');
    ociError(await call('PUT', '/v2/clients/acme/manifests/junk', '{not json', { 'content-type': mediaTypes.ociManifest }), 400, 'MANIFEST_INVALID');
    ociError(await call('PUT', '/v2/clients/acme/manifests/junk', '{"schemaVersion":2,"layers":[]}', { 'content-type': mediaTypes.ociManifest }), 400, 'MANIFEST_INVALID');
    // repository names outside the grammar, path traversal in names and references
    ociError(await call('GET', '/v2/Clients/ACME/manifests/latest'), 400, 'NAME_INVALID');
    ociError(await call('PUT', '/v2/clients/-acme/manifests/latest', manifestFor(config, [layerA]), { 'content-type': mediaTypes.ociManifest }), 400, 'NAME_INVALID');
    ociError(await call('GET', '/v2/clients/../../etc/manifests/latest'), 400, 'NAME_INVALID');
    ociError(await call('POST', '/v2/clients/..%2F..%2Fetc/blobs/uploads/'), 400, 'NAME_INVALID');
    ociError(await call('PUT', '/v2/clients/acme/manifests/..%2F..%2Findex.json', manifestFor(config, [layerA]), { 'content-type': mediaTypes.ociManifest }), 400, 'MANIFEST_INVALID');
    // distribution-spec "Pulling manifests": not found is 404 whatever the reference looks like (nothing is read)
    ociError(await call('GET', '/v2/clients/acme/manifests/..'), 404, 'MANIFEST_UNKNOWN');
    ociError(await call('GET', '/v2/clients/acme/blobs/sha256:..%2F..%2Findex.json'), 400, 'DIGEST_INVALID');
    ociError(await call('PATCH', '/v2/clients/acme/blobs/uploads/..%2F..%2Findex.json', 'x'), 404, 'BLOB_UPLOAD_UNKNOWN');
    ociError(await call('GET', '/v2/clients/acme/nonsense'), 400, 'NAME_INVALID');
    // unknown things
    ociError(await call('GET', '/v2/clients/nobody/manifests/latest'), 404, 'NAME_UNKNOWN');
    ociError(await call('GET', '/v2/clients/acme/manifests/nope'), 404, 'MANIFEST_UNKNOWN');
    ociError(await call('GET', `/v2/clients/acme/blobs/${sha256Digest('nope')}`), 404, 'BLOB_UNKNOWN');
    // a blob of another repository is not visible through this one
    ociError(await call('GET', `/v2/clients/third/blobs/${sha256Digest(layerB)}`), 404, 'BLOB_UNKNOWN');

    const after = JSON.parse(await snapshot()) as [string[], string];
    const [blobsBefore, indexBefore] = JSON.parse(before) as [string[], string];
    assert.equal(after[1], indexBefore, 'index.json unchanged');
    // the only new blob is the 10-byte layer pushed on purpose above
    assert.deepEqual(after[0].filter((b) => !blobsBefore.includes(b)), [sha256Digest(layerA.subarray(0, 10))]);
    assert.deepEqual(await readdir(registry.layout.tmpDir), []);
  });

  test('authorize is asked for every repository and action, and its refusal is an OCI error', async () => {
    denied.add('clients/acme:pull');
    const r = await call('GET', '/v2/clients/acme/manifests/latest');
    ociError(r, 401, 'UNAUTHORIZED');
    assert.equal(r.headers['www-authenticate'], 'Bearer realm="test"');
    // a mount from a repository the caller may not pull falls back to an upload
    assert.equal((await call('POST', `/v2/clients/new/blobs/uploads/?mount=${sha256Digest(layerA)}&from=clients/acme`)).status, 202);
    denied.delete('clients/acme:pull');
    assert.equal((await call('GET', '/v2/clients/acme/manifests/latest')).status, 200);
  });

  test('gc never breaks a pull in progress: a fetched manifest keeps its blobs after its version is removed', async () => {
    const manifest = (await call('GET', '/v2/clients/acme/manifests/latest')).body;
    const m = JSON.parse(manifest.toString()) as { layers: { digest: string }[] };
    await registry.remove('clients/acme:latest', { force: true });
    await registry.remove('clients/acme:stable', { force: true }).catch(() => undefined);
    assert.equal((await registry.gc({ graceMs: 0 })).removed.filter((r) => m.layers.some((l) => l.digest === r.digest)).length, 0);
    for (const l of m.layers) assert.equal((await call('GET', `/v2/clients/acme/blobs/${l.digest}`)).status, 200);
    // once the lease has expired the blobs go
    const gone = await registry.gc({ graceMs: 0, leaseMs: 0 });
    assert.ok(m.layers.every((l) => gone.removed.some((r) => r.digest === l.digest)));
  });
});
