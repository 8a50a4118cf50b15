import assert from 'node:assert/strict';
import { readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { paths } from '../core/config.js';
import { Grants } from '../grants/grants.js';
import { defaultVector } from '../contracts/default-vector.js';
import { workflowConfigFiles } from '../workflow/open-request-workflow.js';
import { openRegistry } from '../registry/registry.js';
import { postgresBin, startPostgres, type RunningPostgres } from '../store/testing/postgres-cluster.js';
import type { RequestResult } from '../workflow/request-result.js';
import { testHomes, type TestHomes } from '../../test/support/homes.js';
import { debianBase } from '../../test/support/images.js';
import { prescient } from '../../test/support/cli.js';
import { startServe, type ServeProcess } from '../../test/support/serve.js';
import { basicAuth } from '../../test/support/basic-auth.js';
import { requestImage } from '../../test/support/request-image.js';
import { BuildQueue } from './build-queue.js';
import { reapLeftovers, startWorker, stopWorkers, until, untilModuleStarts, type WorkerProcess } from '../../test/support/workers.js';

const skip = !(await postgresBin()) && "PostgreSQL is not installed (Debian's postgresql, scripts/debian-packages.txt)";

/**
 * #17's deployment on one machine standing in for several: PostgreSQL, one `prescient serve` with
 * the queue, two `prescient worker` processes with homes of their own. The workers share the
 * serve's registry folder and the test run's layer cache until the external registry lands
 * (then it is what they share). Concurrent requests run one build per client, spread over both
 * workers; a worker SIGKILLed mid-build has its build finished by the other, registered once.
 */
describe('serve + two workers on a PostgreSQL build queue', { skip, timeout: 40 * 60_000 }, () => {
  let pg: RunningPostgres;
  let homes: TestHomes<'serve' | 'w1' | 'w2'>;
  let dir: string;
  let server: ServeProcess;
  const workers: WorkerProcess[] = [];
  const credentials = new Map<string, string>();
  // The acceptance's numbers: 50 concurrent requests for 10 clients.
  const clients = Array.from({ length: 10 }, (_, i) => `q${i}`);
  const killed = 'qkill';
  const cancelled = 'qcancel';
  let serveHome: string;

  before(async () => {
    await debianBase();
    pg = await startPostgres();
    homes = await testHomes({ prefix: 'queue-cluster', names: ['serve', 'w1', 'w2'], share: ['bases', 'layers', 'cache'] });
    dir = homes.dir;
    serveHome = homes.homes.serve;
    await openRegistry({ root: paths(serveHome).registry });
    for (const name of ['w1', 'w2']) await symlink(paths(serveHome).registry, paths(join(dir, name)).registry);
    // The cancelled client's category installs a package (a build that lasts long enough to be cancelled: the others' layers are all cached).
    const files = workflowConfigFiles(paths(serveHome));
    // So does the killed client's (another package): the SIGKILL lands while its software module runs.
    await writeFile(
      files.identify,
      JSON.stringify({
        rules: [
          { kind: 'account', account: 'cancel@queue.test', clientId: cancelled, category: 'dev' },
          { kind: 'account', account: 'kill@queue.test', clientId: killed, category: 'ops' },
        ],
        fallbackCategory: 'general',
      }),
    );
    const vectorOf = (category: string, pkg: string): object => ({
      ...defaultVector({ subject: { category }, horizon: { startsAt: '2026-12-01T00:00:00Z', hours: 24 }, generatedAt: '2026-12-01T00:00:00Z' }),
      software: [{ name: pkg, probability: 0.95 }],
    });
    await writeFile(files.categoryVectors, JSON.stringify({ dev: vectorOf('dev', 'cowsay'), ops: vectorOf('ops', 'sl') }));
    const grants = await Grants.open({ secretsDir: paths(serveHome).secrets });
    for (const id of [...clients, killed, cancelled]) {
      const c = await grants.credentials.issue(id);
      credentials.set(id, basicAuth(c));
    }
    server = await startServe(serveHome, ['--queue-url', pg.url]);
    workers.push(await startWorker('w1', join(dir, 'w1'), pg.url), await startWorker('w2', join(dir, 'w2'), pg.url));
  });
  after(async () => {
    await stopWorkers(workers);
    await server?.stop();
    await pg?.stop();
    await homes?.remove();
  });

  const request = (clientId: string, body: object = { clientId }): Promise<RequestResult> => requestImage(server, credentials.get(clientId)!, body);

  const registeredBy = (repository: string): string[] => workers.filter((w) => w.events.some((e) => e.type === 'registered' && e.repository === repository)).map((w) => w.name);

  test('50 concurrent requests for 10 clients run exactly 10 builds, on both workers; each request gets its own client grant', async () => {
    const asked = clients.flatMap((c) => [c, c, c, c, c]);
    const results = await Promise.all(asked.map((c) => request(c)));
    for (const [i, r] of results.entries()) {
      assert.equal(r.clientId, asked[i]);
      assert.equal(r.grant.scope, `repository:clients/${asked[i]}:pull`);
      assert.equal(r.image.repository, `clients/${asked[i]}`);
      assert.ok(['built', 'joined'].includes(r.source), r.source);
    }
    const queue = await BuildQueue.open({ kind: 'postgres', url: pg.url });
    try {
      const jobs = await queue.list();
      assert.equal(jobs.length, clients.length, JSON.stringify(jobs.map((j) => [j.repository, j.state])));
      assert.deepEqual(jobs.map((j) => j.state), clients.map(() => 'completed'));
      assert.deepEqual(new Set(jobs.map((j) => j.repository)), new Set(clients.map((c) => `clients/${c}`)));
    } finally {
      await queue.close();
    }
    const registered = workers.map((w) => w.events.filter((e) => e.type === 'registered').length);
    assert.equal(registered[0]! + registered[1]!, clients.length, `registered per worker: ${registered.join(', ')}`);
    assert.ok(registered.every((n) => n >= 1), `both workers build: ${registered.join(', ')}`);
    const registry = await openRegistry({ root: paths(serveHome).registry, readOnly: true });
    for (const c of clients) {
      const versions = await registry.versions(`clients/${c}`);
      assert.equal(versions.length, 1, `${c}: ${versions.length} versions`);
      const same = results.filter((r) => r.clientId === c);
      assert.ok(same.every((r) => r.image.digest === versions[0]!.digest), `${c}: every request got the one version`);
    }
    // Asked again: a prebuilt hit, answered by the server from the registry without the queue.
    const again = await request('q0');
    assert.equal(again.source, 'prebuilt');
  });

  test('a worker SIGKILLed mid-build: the other finishes it after the lease, one version is registered, fsck is clean', async () => {
    const asked = request(killed, { account: 'kill@queue.test' });
    // Mid-build: the worker has taken the job and its software module (installing sl) has started.
    const victim = await untilModuleStarts(workers, `clients/${killed}`, 'software', 300_000);
    assert.ok(!victim.events.some((e) => e.type === 'registered' && e.repository === `clients/${killed}`), 'killed before it registered');
    victim.child.kill('SIGKILL');
    await new Promise((r) => victim.child.once('exit', r));
    await reapLeftovers(join(dir, victim.name));
    const r = await asked;
    assert.equal(r.clientId, killed);
    assert.equal(r.source, 'built');
    const survivor = workers.find((w) => w !== victim)!;
    assert.deepEqual(registeredBy(`clients/${killed}`), [survivor.name]);
    assert.ok(survivor.events.some((e) => e.type === 'swept'), 'the survivor swept the lease');
    const queue = await BuildQueue.open({ kind: 'postgres', url: pg.url });
    try {
      const [job] = await queue.list({ clientId: killed });
      assert.equal(job?.state, 'completed');
      assert.equal(job?.attempts, 2);
      assert.equal(job?.result?.digest, r.image.digest);
    } finally {
      await queue.close();
    }
    const registry = await openRegistry({ root: paths(serveHome).registry, readOnly: true });
    assert.equal((await registry.versions(`clients/${killed}`)).length, 1);
    const fsck = await prescient(serveHome, ['registry', 'fsck']);
    assert.equal(fsck.code, 0, `${JSON.stringify(fsck.json)} ${fsck.stderr}`);
  });

  test("an admin's cancel over HTTP stops the build on its worker; the request gets ABORTED, nothing is registered", async () => {
    const admin = basicAuth({ username: 'admin', secret: (await readFile(join(paths(serveHome).secrets, 'admin.secret'), 'utf8')).trim() });
    const asked = fetch(`${server.base}/v1/requests`, { method: 'POST', headers: { authorization: credentials.get(cancelled)!, 'content-type': 'application/json' }, body: JSON.stringify({ account: 'cancel@queue.test' }) });
    const worker = await until('a worker taking the build', () => workers.find((w) => w.child.exitCode === null && w.child.signalCode === null && w.events.some((e) => e.type === 'taken' && e.repository === `clients/${cancelled}`)), 120_000);
    const res = await fetch(`${server.base}/v1/clients/${cancelled}/builds`, { method: 'DELETE', headers: { authorization: admin } });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { cancelled: number; queued: string[] };
    assert.equal(body.cancelled, 1);
    assert.equal(body.queued.length, 1);
    const answer = await asked;
    assert.notEqual(answer.status, 200);
    assert.equal(((await answer.json()) as { error: string }).error, 'ABORTED');
    await until('the worker stopping the build', () => worker.events.find((e) => e.type === 'cancelled' && e.repository === `clients/${cancelled}`), 30_000).catch((e: Error) => {
      throw new Error(`${e.message}; the worker's events: ${JSON.stringify(worker.events.filter((x) => x.type !== 'pipeline').slice(-6))}\n${worker.stderr().slice(-3000)}`);
    });
    assert.deepEqual(registeredBy(`clients/${cancelled}`), []);
    const registry = await openRegistry({ root: paths(serveHome).registry, readOnly: true });
    assert.equal((await registry.versions(`clients/${cancelled}`).catch(() => [])).length, 0);
  });
});
