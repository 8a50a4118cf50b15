import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { paths } from '../core/config.js';
import { sha256Digest } from '../core/digest.js';
import { defaultVector } from '../contracts/default-vector.js';
import { Grants } from '../grants/grants.js';
import { defaultPolicy } from '../policy/policy.js';
import { BuildQueue } from '../queue/build-queue.js';
import { postgresBin, startPostgres, type RunningPostgres } from '../store/testing/postgres-cluster.js';
import { basicAuth } from '../../test/support/basic-auth.js';
import { startServe, type ServeProcess } from '../../test/support/serve.js';
import { tempDirs } from '../../test/support/temp-dirs.js';
import { startWorker, stopWorkers, until, type WorkerProcess } from '../../test/support/workers.js';

const skip = !(await postgresBin()) && "PostgreSQL is not installed (Debian's postgresql, scripts/debian-packages.txt)";
const home = tempDirs('prescient-db-outage-');

/**
 * The shared database restarting under a running `serve` (store and build queue on it) and a
 * `prescient worker`: what a client meets meanwhile is a 503 naming the database (its OTLP
 * exporter or script retries a 503, not a 500), nothing exits, and both answer again on their
 * own once the database is back.
 */
describe('PostgreSQL stopped and started again under serve and a worker', { skip, timeout: 5 * 60_000 }, () => {
  let pg: RunningPostgres;
  let server: ServeProcess;
  let worker: WorkerProcess;
  let source: string;
  let admin: string;

  before(async () => {
    pg = await startPostgres();
    const dir = await home();
    const grants = await Grants.open({ secretsDir: paths(dir).secrets });
    source = basicAuth(await grants.credentials.issueSource('otel', ['vm:web-1']));
    admin = basicAuth(grants.credentials.admin);
    server = await startServe(dir, ['--queue-url', pg.url], { env: { PRESCIENT_STORE_URL: pg.url } });
    worker = await startWorker('w1', join(dir, 'w1'), pg.url);
  });
  after(async () => {
    await stopWorkers(worker ? [worker] : []);
    await server?.stop();
    await pg?.stop();
  });

  const postTelemetry = (): Promise<Response> =>
    fetch(`${server.base}/v1/telemetry`, {
      method: 'POST',
      headers: { authorization: source, 'content-type': 'application/x-ndjson' },
      body: `${JSON.stringify({ kind: 'resource', subject: 'vm:web-1', source: 'hypervisor', time: Date.UTC(2026, 11, 1), cpuPercent: 5 })}\n`,
      signal: AbortSignal.timeout(30_000),
    });
  const cancelBuilds = (): Promise<Response> => fetch(`${server.base}/v1/clients/web-1/builds`, { method: 'DELETE', headers: { authorization: admin }, signal: AbortSignal.timeout(30_000) });

  test('while it is down: 503 UNAVAILABLE naming the database, with Retry-After, for the store and the queue; once it is back: 200, and the worker takes builds again', async () => {
    assert.equal((await postTelemetry()).status, 200);
    const readyz = async () => {
      const r = await fetch(`${server.base}/readyz`, { signal: AbortSignal.timeout(30_000) });
      return { status: r.status, retryAfter: r.headers.get('retry-after'), body: (await r.json()) as { status: string; cause?: string; checks: Record<string, string> } };
    };
    assert.deepEqual(await readyz(), { status: 200, retryAfter: null, body: { status: 'ready', checks: { store: 'ok', queue: 'ok' } } });
    await pg.halt();
    // Not ready, naming what is down (never its address: the route is public); alive all the same.
    assert.deepEqual(await readyz(), { status: 503, retryAfter: '5', body: { status: 'unavailable', cause: 'store,queue', checks: { store: 'unavailable', queue: 'unavailable' } } });
    assert.equal((await fetch(`${server.base}/healthz`)).status, 200);

    const down = await postTelemetry();
    const body = (await down.json()) as { error: string; message: string };
    assert.equal(down.status, 503, JSON.stringify(body));
    assert.equal(body.error, 'UNAVAILABLE');
    assert.match(body.message, new RegExp(`PostgreSQL store at 127\\.0\\.0\\.1:${pg.port}/postgres is unavailable`));
    assert.ok(down.headers.get('retry-after'), 'a Retry-After header');
    const queueDown = await cancelBuilds();
    const queueBody = (await queueDown.json()) as { error: string; message: string };
    assert.equal(queueDown.status, 503, JSON.stringify(queueBody));
    assert.match(queueBody.message, /PostgreSQL build queue at 127\.0\.0\.1:\d+\/postgres is unavailable/);

    // A few heartbeats of the worker with the database gone.
    await new Promise((r) => setTimeout(r, 3000));
    await pg.restart();
    await until('serve answering again', () => (server.child.exitCode === null ? true : undefined), 1000);
    assert.equal((await postTelemetry()).status, 200);
    assert.equal((await cancelBuilds()).status, 200);
    assert.equal((await readyz()).status, 200, 'ready again once the database is back');
    assert.equal(worker.child.exitCode, null, `the worker is still running: ${worker.stderr().slice(-2000)}`);
    assert.ok(worker.events.some((e) => e.type === 'error'), 'the worker said the database was gone');

    // A job queued now is taken by the same worker (it refuses it at once: this machine has no such base).
    const queue = await BuildQueue.open({ kind: 'postgres', url: pg.url });
    try {
      const vector = defaultVector({ subject: { category: 'web' }, horizon: { startsAt: '2026-12-01T00:00:00Z', hours: 24 }, generatedAt: '2026-12-01T00:00:00Z' });
      const { id } = await queue.enqueue({ clientId: 'web-1', repository: 'clients/web-1', base: { name: 'no-such-base', key: 'k' }, vector, vectorDigest: sha256Digest('v'), planDigest: sha256Digest('p'), policy: defaultPolicy() });
      await until('the worker taking the job', () => worker.events.find((e) => e.type === 'taken' && e.id === id), 30_000);
    } finally {
      await queue.close();
    }
  });
});
