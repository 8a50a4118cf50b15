import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { paths } from '../core/config.js';
import { hasCommand, run } from '../core/exec.js';
import { Grants } from '../grants/grants.js';
import { withImageSession } from '../image/open.js';
import { openRegistry } from '../registry/registry.js';
import { debianBase, testHome, testPaths } from '../../test/support/images.js';
import { startServe, type ServeProcess } from '../../test/support/serve.js';
import { webDbVector } from '../../test/support/vectors.js';
import { workflowConfigFiles } from './open-request-workflow.js';
import type { RequestResult } from './request-workflow.js';

const skip = !(await hasCommand('skopeo')) && 'skopeo is needed (scripts/debian-packages.txt)';

/**
 * The issue's end-to-end line against the real `prescient serve`: a client requests an image,
 * pulls it with skopeo using the granted token, and the pulled image holds what its vector
 * says (nginx and PostgreSQL installed); another client's token is refused on that repository.
 * Telemetry and training are not on this branch: the category vector file stands in for them.
 */
describe('prescient serve: request, grant, pull with skopeo', { skip }, () => {
  let dir: string;
  let home: string;
  let server: ServeProcess;
  let shop: string;
  let other: string;

  before(async () => {
    await debianBase();
    dir = await mkdtemp(join(testHome(), 'serve-e2e-'));
    home = join(dir, 'home');
    await mkdir(home, { recursive: true });
    // The slow state is shared with the test run: the base, the layer cache, the package cache.
    const shared = testPaths();
    await symlink(shared.bases, paths(home).bases);
    await symlink(shared.layers, paths(home).layers);
    await symlink(join(shared.home, 'cache'), join(home, 'cache'));
    const files = workflowConfigFiles(paths(home));
    await writeFile(files.identify, JSON.stringify({ rules: [{ kind: 'pattern', field: 'account', regex: '@shop\\.example$', clientId: 'shop', category: 'web-db' }], fallbackCategory: 'general' }));
    await writeFile(files.categoryVectors, JSON.stringify({ 'web-db': webDbVector() }));
    const grants = await Grants.open({ secretsDir: paths(home).secrets });
    const basic = (c: { username: string; secret: string }): string => `Basic ${Buffer.from(`${c.username}:${c.secret}`).toString('base64')}`;
    shop = basic(await grants.credentials.issue('shop'));
    other = basic(await grants.credentials.issue('other'));
    server = await startServe(home);
  });
  after(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const request = async (auth: string, body: unknown): Promise<RequestResult> => {
    const res = await fetch(`${server.base}/v1/requests`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const text = await res.text();
    assert.equal(res.status, 200, text);
    return JSON.parse(text) as RequestResult;
  };

  test('the granted token pulls the image with skopeo, and the image holds the vector\'s software', async () => {
    const r = await request(shop, { account: 'buyer@shop.example' });
    assert.equal(r.clientId, 'shop');
    assert.equal(r.category, 'web-db');
    assert.equal(r.vmSpec?.vcpus, 4);
    const out = join(dir, 'pulled');
    await run('skopeo', ['copy', '--src-tls-verify=false', '--src-registry-token', r.grant.token, `docker://127.0.0.1:${server.port}/${r.image.reference}`, `oci:${out}:shop`], { timeoutMs: 300_000 });
    const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    assert.equal(index.manifests[0]!.digest, r.image.digest);
    // Open what was pulled (not the server's copy): import into a fresh registry and check it out.
    const mine = await openRegistry({ root: join(dir, 'mine') });
    await mine.importLayout(out, 'shop', 'clients/shop', 'latest');
    const chain = await mine.checkout('clients/shop:latest', join(dir, 'checkout'));
    await withImageSession(chain.top, { runtimeDir: join(dir, 'run'), readOnly: true }, async (s) => {
      const dpkg = await s.exec(['dpkg-query', '-W', '-f', '${Package} ${Status}\\n', 'nginx', 'postgresql']);
      for (const pkg of ['nginx', 'postgresql']) assert.match(dpkg.stdout, new RegExp(`^${pkg} install ok installed$`, 'm'));
    });
    // Asked again: answered from the registered version, without the pipeline.
    const again = await request(shop, { account: 'buyer@shop.example' });
    assert.equal(again.source, 'prebuilt');
    assert.equal(again.image.digest, r.image.digest);
  });

  test('another client\'s grant is refused on this client\'s repository', async () => {
    const o = await request(other, { clientId: 'other' });
    assert.equal(o.category, 'general');
    const refused = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', '--registry-token', o.grant.token, `docker://127.0.0.1:${server.port}/clients/shop:latest`], { allowFailure: true, timeoutMs: 60_000 });
    assert.notEqual(refused.exitCode, 0);
    assert.match(refused.stderr, /unauthorized|denied|401|403/i);
    const direct = await fetch(`${server.base}/v2/clients/shop/manifests/latest`, { headers: { authorization: `Bearer ${o.grant.token}` } });
    assert.ok(direct.status === 401 || direct.status === 403, String(direct.status));
    const own = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', '--registry-token', o.grant.token, `docker://127.0.0.1:${server.port}/clients/other:latest`], { allowFailure: true, timeoutMs: 60_000 });
    assert.equal(own.exitCode, 0, own.stderr);
  });
});
