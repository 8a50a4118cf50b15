import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { paths } from '../core/config.js';
import { Grants } from '../grants/grants.js';
import { freePort, hasDockerRegistry, startDockerRegistry, type RunningRegistry } from '../registry/testing/docker-registry.js';
import { postgresBin, startPostgres, type RunningPostgres } from '../store/testing/postgres-cluster.js';
import { run } from '../core/exec.js';
import { defaultVector } from '../contracts/default-vector.js';
import { workflowConfigFiles } from '../workflow/open-request-workflow.js';
import type { RequestResult } from '../workflow/request-result.js';
import { testHomes, type TestHomes } from '../../test/support/homes.js';
import { debianBase } from '../../test/support/images.js';
import { prescient } from '../../test/support/cli.js';
import { startServe, type ServeProcess } from '../../test/support/serve.js';
import { basicAuth } from '../../test/support/basic-auth.js';
import { requestImage } from '../../test/support/request-image.js';
import { reapLeftovers, startWorker, stopWorkers, untilModuleStarts, type WorkerProcess } from '../../test/support/workers.js';

const skip =
  (!(await postgresBin()) && "PostgreSQL is not installed (Debian's postgresql, scripts/debian-packages.txt)") ||
  (!(await hasDockerRegistry()) && 'skopeo and docker-registry are needed (scripts/debian-packages.txt)');

/**
 * The acceptance's wiring with the external registry: PostgreSQL, Debian's docker-registry under
 * token auth by the API server's certificate, one `serve` and two `prescient worker`s with homes
 * of their own (nothing shared on disk but the base file), all on loopback. The workers push
 * what they build to docker-registry; a client pulls its image there with its grant, and
 * another client's grant is refused there. A worker SIGKILLed inside a build has it finished by
 * the other: one version, in docker-registry too, and both sides check clean.
 */
describe('serve + two workers + PostgreSQL + docker-registry', { skip, timeout: 40 * 60_000 }, () => {
  let pg: RunningPostgres;
  let registry: RunningRegistry;
  let homes: TestHomes<'serve' | 'w1' | 'w2'>;
  let dir: string;
  let server: ServeProcess;
  let serveHome: string;
  const workers: WorkerProcess[] = [];
  // The acceptance's numbers: 50 concurrent requests for 10 clients.
  const clients = Array.from({ length: 10 }, (_, i) => `x${i}`);
  const killed = 'xkill';
  const credentials = new Map<string, string>();

  before(async () => {
    await debianBase();
    pg = await startPostgres();
    // nothing shared on disk but the base and the apt cache: each worker has its own layer cache
    homes = await testHomes({ prefix: 'queue-extreg', names: ['serve', 'w1', 'w2'], share: ['bases', 'cache'] });
    dir = homes.dir;
    serveHome = homes.homes.serve;
    // The killed client's category installs a package: the SIGKILL lands while that module runs.
    const files = workflowConfigFiles(paths(serveHome));
    await writeFile(files.identify, JSON.stringify({ rules: [{ kind: 'account', account: 'kill@queue.test', clientId: killed, category: 'ops' }], fallbackCategory: 'general' }));
    const ops = defaultVector({ subject: { category: 'ops' }, horizon: { startsAt: '2026-12-01T00:00:00Z', hours: 24 }, generatedAt: '2026-12-01T00:00:00Z' });
    await writeFile(files.categoryVectors, JSON.stringify({ ops: { ...ops, software: [{ name: 'sl', probability: 0.95 }] } }));
    const grants = await Grants.open({ secretsDir: paths(serveHome).secrets });
    for (const id of [...clients, killed]) {
      const c = await grants.credentials.issue(id);
      credentials.set(id, basicAuth(c));
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
    await stopWorkers(workers);
    await server?.stop();
    await registry?.stop();
    await pg?.stop();
    await homes?.remove();
  });

  const request = (clientId: string, body: object = { clientId }): Promise<RequestResult> => requestImage(server, credentials.get(clientId)!, body);

  test('50 concurrent requests for 10 clients: 10 builds on both workers, pushed to docker-registry; a grant pulls its own image there, not another', async () => {
    const asked = clients.flatMap((c) => [c, c, c, c, c]);
    const results = await Promise.all(asked.map((clientId) => request(clientId)));
    for (const [i, r] of results.entries()) assert.equal(r.grant.scope, `repository:clients/${asked[i]}:pull`);
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
  test('a worker SIGKILLed inside a build: the other finishes it, one version here and in docker-registry, fsck clean on both sides', async () => {
    const asked = request(killed, { account: 'kill@queue.test' });
    const victim = await untilModuleStarts(workers, `clients/${killed}`, 'software', 300_000);
    victim.child.kill('SIGKILL');
    await new Promise((r) => victim.child.once('exit', r));
    await reapLeftovers(join(dir, victim.name));
    const r = await asked;
    assert.equal(r.source, 'built');
    const survivor = workers.find((w) => w !== victim)!;
    assert.deepEqual(workers.filter((w) => w.events.some((e) => e.type === 'registered' && e.repository === `clients/${killed}`)).map((w) => w.name), [survivor.name]);
    // docker-registry holds one version of it, the one handed out.
    const token = r.grant.token;
    const tags = await fetch(`http://${registry.address}/v2/clients/${killed}/tags/list`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(tags.status, 200);
    const names = ((await tags.json()) as { tags: string[] }).tags.filter((t) => /^v\d+$/.test(t));
    assert.deepEqual(names, ['v1']);
    // Both sides check clean: the server's and the survivor's local layouts, and docker-registry's storage.
    for (const home of [serveHome, join(dir, survivor.name)]) {
      const fsck = await prescient(home, ['registry', 'fsck']);
      assert.equal(fsck.code, 0, `${home}: ${JSON.stringify(fsck.json)} ${fsck.stderr}`);
    }
    const gc = await run('docker-registry', ['garbage-collect', '--dry-run', join(dir, 'docker-registry', 'config.yml')]);
    assert.equal(gc.exitCode ?? 0, 0);
  });
});
