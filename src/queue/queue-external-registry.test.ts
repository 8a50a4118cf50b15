import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { paths } from '../core/config.js';
import { Grants } from '../grants/grants.js';
import { freePort, hasDockerRegistry, startDockerRegistry, type RunningRegistry } from '../registry/testing/docker-registry.js';
import { postgresBin, startPostgres, type RunningPostgres } from '../store/testing/postgres-cluster.js';
import type { RequestResult } from '../workflow/request-workflow.js';
import { debianBase, testHome, testPaths } from '../../test/support/images.js';
import { startServe, type ServeProcess } from '../../test/support/serve.js';
import { startWorker, type WorkerProcess } from '../../test/support/workers.js';

const skip =
  (!(await postgresBin()) && "PostgreSQL is not installed (Debian's postgresql, scripts/debian-packages.txt)") ||
  (!(await hasDockerRegistry()) && 'skopeo and docker-registry are needed (scripts/debian-packages.txt)');

/**
 * The acceptance's wiring with the external registry: PostgreSQL, Debian's docker-registry under
 * token auth by the API server's certificate, one `serve` and two `prescient worker`s with homes
 * of their own (nothing shared on disk but the base file), all on loopback. The workers push
 * what they build to docker-registry; a client pulls its image there with its grant, and
 * another client's grant is refused there.
 */
describe('serve + two workers + PostgreSQL + docker-registry', { skip, timeout: 40 * 60_000 }, () => {
  let pg: RunningPostgres;
  let registry: RunningRegistry;
  let dir: string;
  let server: ServeProcess;
  const workers: WorkerProcess[] = [];
  const clients = ['xa', 'xb', 'xc', 'xd'];
  const credentials = new Map<string, string>();

  before(async () => {
    await debianBase();
    pg = await startPostgres();
    dir = await mkdtemp(join(testHome(), 'queue-extreg-'));
    const shared = testPaths();
    await mkdir(join(shared.home, 'cache'), { recursive: true });
    for (const name of ['serve', 'w1', 'w2']) {
      const home = join(dir, name);
      await mkdir(home, { recursive: true });
      await symlink(shared.bases, paths(home).bases);
      await symlink(join(shared.home, 'cache'), join(home, 'cache'));
    }
    const serveHome = join(dir, 'serve');
    const grants = await Grants.open({ secretsDir: paths(serveHome).secrets });
    for (const id of clients) {
      const c = await grants.credentials.issue(id);
      credentials.set(id, `Basic ${Buffer.from(`${c.username}:${c.secret}`).toString('base64')}`);
    }
    const port = await freePort();
    registry = await startDockerRegistry(join(dir, 'docker-registry'), { tokenAuth: { realm: `http://127.0.0.1:${port}/v1/token`, certificatePem: grants.signer.certificatePem } });
    const registryUrl = `http://${registry.address}`;
    process.env['PRESCIENT_REGISTRY_URL'] = registryUrl;
    try {
      server = await startServe(serveHome, ['--port', String(port), '--queue-url', pg.url]);
    } finally {
      delete process.env['PRESCIENT_REGISTRY_URL'];
    }
    // The workers authenticate at serve's token realm with the admin credential of its home.
    const credentialsFile = join(dir, 'worker-registry-credentials');
    await writeFile(credentialsFile, `${grants.credentials.admin.username}:${grants.credentials.admin.secret}\n`, { mode: 0o600 });
    const env = { PRESCIENT_REGISTRY_URL: registryUrl, PRESCIENT_REGISTRY_CREDENTIALS_FILE: credentialsFile };
    workers.push(await startWorker('w1', join(dir, 'w1'), pg.url, env), await startWorker('w2', join(dir, 'w2'), pg.url, env));
  });
  after(async () => {
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
    await Promise.all(workers.map((w) => (w.child.exitCode === null && w.child.signalCode === null ? new Promise((r) => w.child.once('exit', r)) : undefined)));
    await server?.stop();
    await registry?.stop();
    await pg?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('8 concurrent requests for 4 clients: 4 builds on both workers, pushed to docker-registry; a grant pulls its own image there, not another', async () => {
    const asked = clients.flatMap((c) => [c, c]);
    const results = await Promise.all(
      asked.map(async (clientId) => {
        const res = await fetch(`${server.base}/v1/requests`, { method: 'POST', headers: { authorization: credentials.get(clientId)!, 'content-type': 'application/json' }, body: JSON.stringify({ clientId }) });
        const text = await res.text();
        assert.equal(res.status, 200, `${clientId}: ${text}`);
        return JSON.parse(text) as RequestResult;
      }),
    );
    const registered = workers.map((w) => w.events.filter((e) => e.type === 'registered').length);
    assert.equal(registered[0]! + registered[1]!, clients.length, `registered per worker: ${registered.join(', ')}\n${workers.map((w) => w.stderr()).join('\n')}`);
    assert.ok(registered.every((n) => n >= 1), `both workers build: ${registered.join(', ')}`);
    const manifest = (c: string, token: string): Promise<Response> =>
      fetch(`http://${registry.address}/v2/clients/${c}/manifests/latest`, { headers: { authorization: `Bearer ${token}`, accept: 'application/vnd.oci.image.manifest.v1+json' } });
    for (const c of clients) {
      const mine = results.find((r) => r.clientId === c)!;
      assert.equal(mine.grant.scope, `repository:clients/${c}:pull`);
      const own = await manifest(c, mine.grant.token);
      assert.equal(own.status, 200, `${c} pulls its own from docker-registry: ${await own.clone().text()}`);
      assert.equal(own.headers.get('docker-content-digest'), mine.image.digest);
      const other = results.find((r) => r.clientId !== c)!;
      const refused = await manifest(c, other.grant.token);
      assert.ok(refused.status === 401 || refused.status === 403, `${other.clientId}'s grant on clients/${c}: ${refused.status}`);
    }
  });
});
