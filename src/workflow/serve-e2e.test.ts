import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { paths } from '../core/config.js';
import { hasCommand, run } from '../core/exec.js';
import { sampleTelemetry } from '../demo/sample-telemetry.js';
import { Grants } from '../grants/grants.js';
import { withImageSession } from '../image/open.js';
import { openRegistry } from '../registry/registry.js';
import type { UsageVector } from '../contracts/usage-vector.js';
import { basicAuth } from '../../test/support/basic-auth.js';
import { testHomes, type TestHomes } from '../../test/support/homes.js';
import { debianBase } from '../../test/support/images.js';
import { cliPath } from '../../test/support/repo.js';
import { requestImage } from '../../test/support/request-image.js';
import { sampleWebClient, webChains } from '../../test/support/sample-web-client.js';
import { startServe, type ServeProcess } from '../../test/support/serve.js';
import { workflowConfigFiles } from './open-request-workflow.js';
import type { RequestResult } from './request-result.js';

const skip = !(await hasCommand('skopeo')) && 'skopeo is needed (scripts/debian-packages.txt)';

/** A made-up web client: nginx and curl in its launches, port 80 open, a 4-core machine. */
const shopClient = sampleWebClient({ id: 'shop', cores: 4, memoryGiB: 8, cpu: { idle: 10, peak: 60 }, hours: [7, 19], chains: [...webChains, ['less', 'curl']] });

/**
 * The issue's end-to-end line against the real `prescient serve`: a client's telemetry goes in
 * over HTTP, `prescient train` learns its category from the store, the client requests an image
 * and pulls it with skopeo using the granted token — and the pulled image holds what the trained
 * models predicted for it. Another client's token, and an expired one, are refused.
 */
describe('prescient serve: telemetry → train → request → grant → pull with skopeo', { skip }, () => {
  let homes: TestHomes<'home'>;
  let dir: string;
  let home: string;
  let server: ServeProcess;
  let shop: string;
  let other: string;

  before(async () => {
    await debianBase();
    // The slow state is shared with the test run: the base, the layer cache, the package cache.
    homes = await testHomes({ prefix: 'serve-e2e', names: ['home'], share: ['bases', 'layers', 'cache'] });
    dir = homes.dir;
    home = homes.homes.home;
    const files = workflowConfigFiles(paths(home));
    await writeFile(files.identify, JSON.stringify({ rules: [{ kind: 'pattern', field: 'account', regex: '@shop\\.example$', clientId: 'shop', category: 'web' }], fallbackCategory: 'general' }));
    const grants = await Grants.open({ secretsDir: paths(home).secrets });
    shop = basicAuth(await grants.credentials.issue('shop'));
    other = basicAuth(await grants.credentials.issue('other'));
    server = await startServe(home);
  });
  after(async () => {
    await server?.stop();
    await homes?.remove();
  });

  const request = (auth: string, body: unknown): Promise<RequestResult> => requestImage(server, auth, body);

  test('ingest, train, request: the granted token pulls the image with skopeo, and it holds what the models predicted', async () => {
    // 1. Telemetry over HTTP, as a collector would send it: with the client's own credential (events about client:shop only).
    const events = [...sampleTelemetry({ clients: [shopClient], days: 7, endMs: Date.UTC(2026, 10, 28) })];
    const body = events.map((e) => JSON.stringify(e)).join('\n');
    const ingested = await fetch(`${server.base}/v1/telemetry`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson', authorization: shop }, body });
    assert.equal(ingested.status, 200, await ingested.clone().text());
    assert.equal(((await ingested.json()) as { accepted: number }).accepted, events.length);

    // 2. Before training, nothing is known about the category: the request would get the small default.
    // 3. Train the category from the store, next to the running server (a separate process, as an operator would).
    const trained = await run(process.execPath, [cliPath, 'train', '--category', 'web', '--time-budget', '60', '--json'], { env: { ...process.env, PRESCIENT_HOME: home }, timeoutMs: 600_000 });
    const set = JSON.parse(trained.stdout) as { version: number; selections: { target: string; selected: string }[] };
    assert.equal(set.version, 1);
    assert.ok(set.selections.some((s) => s.target.startsWith('cpuPercent')));

    // 4. The client asks; the server picks up the new models without a restart.
    const r = await request(shop, { account: 'buyer@shop.example' });
    assert.equal(r.clientId, 'shop');
    assert.equal(r.category, 'web');
    assert.equal(r.source, 'built');
    assert.deepEqual(r.grant.scope, 'repository:clients/shop:pull');

    // 5. Pull with the granted token and open what was pulled (not the server's copy).
    const out = join(dir, 'pulled');
    await run('skopeo', ['copy', '--src-tls-verify=false', '--src-registry-token', r.grant.token, `docker://127.0.0.1:${server.port}/${r.image.reference}`, `oci:${out}:shop`], { timeoutMs: 300_000 });
    const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    assert.equal(index.manifests[0]!.digest, r.image.digest);
    const mine = await openRegistry({ root: join(dir, 'mine') });
    await mine.importLayout(out, 'shop', 'clients/shop', 'latest');
    const shown = await mine.show('clients/shop:latest');
    const vector = shown.config['usageVector'] as UsageVector;
    // The vector came from the trained models, for the client's pseudonym (never its name).
    assert.equal(vector.model.id, 'selector');
    assert.match(vector.model.version, /^category-web\.v1$/);
    assert.match(vector.subject.clientId!, /^c_[A-Za-z0-9_-]{22}$/);
    // The VM spec is the plan's: at least what the vector asks (the services module may add for its workers).
    assert.deepEqual(r.vmSpec, shown.config['vmSpec']);
    assert.ok(r.vmSpec!.vcpus >= vector.resources.vcpus && r.vmSpec!.memoryMiB >= vector.resources.memoryMiB, JSON.stringify(r.vmSpec));
    const wanted = vector.software.filter((s) => s.probability >= 0.5).map((s) => s.name);
    assert.ok(wanted.includes('nginx') && wanted.includes('curl'), `predicted software: ${wanted.join(', ')}`);
    assert.deepEqual(vector.network.inbound, [{ port: 80, protocol: 'tcp' }, { port: 443, protocol: 'tcp' }]);
    const chain = await mine.checkout('clients/shop:latest', join(dir, 'checkout'));
    await withImageSession(chain.top, { runtimeDir: join(dir, 'run'), readOnly: true }, async (s) => {
      const dpkg = await s.exec(['dpkg-query', '-W', '-f', '${Package} ${Status}\\n', ...wanted]);
      for (const pkg of wanted) assert.match(dpkg.stdout, new RegExp(`^${pkg.replace(/[+.]/g, '\\$&')} install ok installed$`, 'm'));
      const rules = await s.readFile('/etc/nftables.conf');
      assert.match(rules.toString(), /dport \{?[^}\n]*\b80\b/);
    });

    // 6. Asked again: answered from the registered version, without the pipeline.
    const again = await request(shop, { clientId: 'shop' });
    assert.equal(again.source, 'prebuilt');
    assert.equal(again.image.digest, r.image.digest);
    assert.ok(again.timings.totalMs < 1000, `${again.timings.totalMs} ms`);
  });

  test("another client's grant, and an expired one, are refused on this client's repository; vectors are private too", async () => {
    const o = await request(other, { clientId: 'other' });
    assert.equal(o.category, 'general');
    const refused = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', '--registry-token', o.grant.token, `docker://127.0.0.1:${server.port}/clients/shop:latest`], { allowFailure: true, timeoutMs: 60_000 });
    assert.notEqual(refused.exitCode, 0);
    assert.match(refused.stderr, /unauthorized|denied|401|403/i);
    const direct = await fetch(`${server.base}/v2/clients/shop/manifests/latest`, { headers: { authorization: `Bearer ${o.grant.token}` } });
    assert.ok(direct.status === 401 || direct.status === 403, String(direct.status));
    const own = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', '--registry-token', o.grant.token, `docker://127.0.0.1:${server.port}/clients/other:latest`], { allowFailure: true, timeoutMs: 60_000 });
    assert.equal(own.exitCode, 0, own.stderr);

    // A grant for shop itself, issued with the server's key an hour ago: expired, refused.
    const past = await Grants.open({ secretsDir: paths(home).secrets, now: () => new Date(Date.now() - 3_600_000) });
    const expired = past.grantFor('shop').token;
    const stale = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', '--registry-token', expired, `docker://127.0.0.1:${server.port}/clients/shop:latest`], { allowFailure: true, timeoutMs: 60_000 });
    assert.notEqual(stale.exitCode, 0);
    assert.equal((await fetch(`${server.base}/v2/clients/shop/manifests/latest`, { headers: { authorization: `Bearer ${expired}` } })).status, 401);

    // Usage vectors: a client reads its own, not another's.
    assert.equal((await fetch(`${server.base}/v1/usage-vectors?client=shop`, { headers: { authorization: other } })).status, 403);
    assert.equal((await fetch(`${server.base}/v1/usage-vectors?client=shop`)).status, 401);
    const mine = await fetch(`${server.base}/v1/usage-vectors?client=shop`, { headers: { authorization: shop } });
    assert.equal(mine.status, 200);
    assert.equal(((await mine.json()) as UsageVector).subject.category, 'web');
  });
});
