import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { run } from '../core/exec.js';
import { toAppError } from '../core/errors.js';
import { createApp, listen } from './app.js';
import { ociRoutes } from './routes/oci.js';
import { openRegistry } from '../registry/registry.js';
import { makeChain, type FixtureChain } from '../registry/testing/qcow2-fixtures.js';

const skip = process.getuid?.() !== 0 && 'mounting a small tmpfs needs root';

/**
 * The registry on a disk that fills up (a 6 MiB tmpfs): a registration or a push that does not
 * fit leaves no version and nothing half-written, fsck stays clean, and the error is one that
 * names the fix — a 503 to an OCI client, not a 500 'internal error'.
 */
describe('a registry whose disk is full', { skip }, () => {
  let dir: string;
  let small: string;
  let chain: FixtureChain;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'prescient-disk-full-'));
    small = join(dir, 'small');
    await mkdir(small);
    await run('mount', ['-t', 'tmpfs', '-o', 'size=6m', 'tmpfs', small]);
    chain = await makeChain(join(dir, 'chain'), 2, { writeMiB: 4 }); // two 4 MiB layers: the second does not fit
  });
  after(async () => {
    await run('umount', [small], { allowFailure: true });
    await rm(dir, { recursive: true, force: true });
  });

  test('register: no version, no temporary file, fsck clean; the error is UNAVAILABLE and says to free space', async () => {
    const root = join(small, 'registry');
    const registry = await openRegistry({ root });
    const e = await registry.register({ repository: 'clients/full', layers: chain.files.map((path) => ({ path })), config: {}, tags: ['latest'] }).then(
      () => assert.fail('registered on a full disk'),
      (x: unknown) => toAppError(x),
    );
    assert.equal(e.code, 'UNAVAILABLE');
    assert.match(e.message, /no space left on the device: free some space \(prescient images gc/);
    assert.deepEqual(await registry.versions('clients/full').catch(() => []), []);
    assert.deepEqual(await readdir(join(root, '.tmp')).catch(() => []), []);
    const fsck = await (await openRegistry({ root })).fsck();
    assert.deepEqual(fsck.problems, []);
  });

  test('an OCI blob push that does not fit: 503 with the fix, nothing stored under its digest', async () => {
    const root = join(small, 'pushed');
    const registry = await openRegistry({ root });
    const server = createApp({ routes: [ociRoutes({ registry })] });
    const { port } = await listen(server, 0);
    try {
      const blob = randomBytes(8 << 20);
      const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
      const res = await fetch(`http://127.0.0.1:${port}/v2/clients/pushed/blobs/uploads/?digest=${digest}`, { method: 'POST', body: blob, headers: { 'content-type': 'application/octet-stream' } });
      const body = (await res.json()) as { errors: { message: string }[] };
      assert.equal(res.status, 503, JSON.stringify(body));
      assert.match(body.errors[0]!.message, /free some space/);
      assert.doesNotMatch(body.errors[0]!.message, new RegExp(small), 'no server path in the answer');
      assert.equal(await registry.layout.blobSize(digest as `sha256:${string}`), undefined);
      assert.deepEqual(await readdir(join(root, '.tmp')).catch(() => []), []);
    } finally {
      await server.close();
    }
  });
});
