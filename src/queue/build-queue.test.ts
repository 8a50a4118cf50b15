import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import postgres from 'pg';
import { setTimeout as delay } from 'node:timers/promises';
import { sha256Digest, type Digest } from '../core/digest.js';
import { AppError, ValidationError } from '../core/errors.js';
import { defaultVector } from '../contracts/default-vector.js';
import type { ImageFacts } from '../image/facts.js';
import { defaultPolicy } from '../policy/policy.js';
import { postgresBin, startPostgres, type RunningPostgres } from '../store/testing/postgres-cluster.js';
import type { BuildInput, BuiltImage, ImageBuilder } from '../workflow/image-builder.js';
import type { BuildJob } from './build-job.js';
import { BuildQueue } from './build-queue.js';
import { BuildWorker, type WorkerEvent } from './build-worker.js';

const skip = !(await postgresBin()) && "PostgreSQL is not installed (Debian's postgresql, scripts/debian-packages.txt)";

const base = { name: 'debian-12', key: 'debian-12-test', path: '/nonexistent', facts: {} as ImageFacts };
const tuning = { heartbeatSeconds: 0.5, leaseSeconds: 2, retryLimit: 2, retryDelaySeconds: 1, timeoutSeconds: 600 };

function jobFor(clientId: string, plan = 'plan'): BuildJob {
  const vector = defaultVector({ subject: { clientId, category: 'general' }, horizon: { startsAt: '2026-12-01T00:00:00.000Z', hours: 168 }, generatedAt: '2026-12-01T00:00:00.000Z' });
  return { clientId, repository: `clients/${clientId}`, base: { name: base.name, key: base.key }, vector, vectorDigest: sha256Digest(clientId), planDigest: sha256Digest(plan), policy: defaultPolicy() };
}

/**
 * The pipeline is not what these tests are about (queue-cluster.test runs the real one in worker
 * processes): this builder plans what the job says and builds as each test scripts it.
 */
class ScriptedBuilder implements ImageBuilder {
  calls: BuildInput[] = [];
  constructor(private readonly script: (input: BuildInput, call: number) => Promise<BuiltImage>) {}
  async planDigest(): Promise<Digest> {
    throw new Error('set per job');
  }
  async build(input: BuildInput): Promise<BuiltImage> {
    this.calls.push(input);
    return this.script(input, this.calls.length);
  }
}

function planning(builder: ScriptedBuilder): ImageBuilder {
  return { planDigest: async (i) => (i as unknown as { planDigest?: Digest }).planDigest ?? sha256Digest('plan'), build: (i) => builder.build(i) };
}

const built = (input: BuildInput): BuiltImage => ({ digest: sha256Digest(input.repository), version: 1, tags: ['latest'], spec: { vcpus: 2, memoryMiB: 2048 } as never });

describe('the build queue on PostgreSQL (pg-boss): one build per key, retries, refusals, cancel, leases', { skip }, () => {
  let pg: RunningPostgres;
  before(async () => {
    pg = await startPostgres();
  });
  after(async () => {
    await pg?.stop();
  });

  async function withWorker<T>(builder: ScriptedBuilder, work: (queue: BuildQueue, events: WorkerEvent[]) => Promise<T>): Promise<T> {
    const queue = await BuildQueue.open({ kind: 'postgres', url: pg.url }, tuning);
    const events: WorkerEvent[] = [];
    const stop = new AbortController();
    const worker = new BuildWorker({ queue, builder: planning(builder), resolveBase: async () => base, pollMs: 100, onEvent: (e) => events.push(e) });
    const running = worker.run(stop.signal);
    try {
      return await work(queue, events);
    } finally {
      stop.abort();
      await running;
      await queue.close();
    }
  }

  test('a second enqueue of the same (repository, base, plan) joins the first; another plan or client is its own job', async () => {
    const queue = await BuildQueue.open({ kind: 'postgres', url: pg.url }, tuning);
    try {
      const a = await queue.enqueue(jobFor('dedup'));
      const b = await queue.enqueue(jobFor('dedup'));
      const c = await queue.enqueue(jobFor('dedup', 'other plan'));
      const d = await queue.enqueue(jobFor('dedup-2'));
      assert.equal(a.joined, false);
      assert.deepEqual(b, { id: a.id, joined: true });
      assert.notEqual(c.id, a.id);
      assert.notEqual(d.id, a.id);
      // Concurrent enqueues from several servers: still one job.
      const many = await Promise.all(Array.from({ length: 8 }, () => queue.enqueue(jobFor('dedup-3'))));
      assert.equal(new Set(many.map((m) => m.id)).size, 1);
      assert.equal(many.filter((m) => !m.joined).length, 1);
      // Nobody works in this test: cancel what it queued (by client, as `builds cancel --client` does).
      assert.deepEqual((await queue.cancelClient('dedup')).sort(), [a.id, c.id].sort());
      await queue.cancelClient('dedup-2');
      await queue.cancelClient('dedup-3');
      assert.equal((await queue.get(a.id))?.state, 'cancelled');
    } finally {
      await queue.close();
    }
  });

  test('a failing build is retried with exponential backoff and its waiter gets the version', async () => {
    const at: number[] = [];
    const builder = new ScriptedBuilder(async (input, call) => {
      at.push(performance.now());
      if (call < 3) throw new AppError('EXTERNAL_TOOL', `qemu-img went away (attempt ${call})`);
      return built(input);
    });
    await withWorker(builder, async (queue, events) => {
      const { id } = await queue.enqueue(jobFor('flaky'));
      const result = await queue.wait(id, { pollMs: 100 });
      assert.equal(result.digest, sha256Digest('clients/flaky'));
      assert.equal(builder.calls.length, 3);
      const [g1, g2] = [at[1]! - at[0]!, at[2]! - at[1]!];
      // retryDelay 1 s, doubling (with pg-boss's jitter: the n-th wait is 2^(n-1)..2^n s).
      assert.ok(g1 >= 900, `first retry after ${g1} ms`);
      assert.ok(g2 >= 1900, `second retry after ${g2} ms`);
      assert.equal(events.filter((e) => e.type === 'failed').length, 2);
      assert.equal((await queue.get(id))?.state, 'completed');
    });
  });

  test('invalid input is refused at once, not retried, and the waiter gets the error by its code', async () => {
    const builder = new ScriptedBuilder(async () => {
      throw new ValidationError('software[0].name', 'not a Debian package name');
    });
    await withWorker(builder, async (queue) => {
      const { id } = await queue.enqueue(jobFor('invalid'));
      await assert.rejects(queue.wait(id, { pollMs: 100 }), (e: AppError) => e.code === 'VALIDATION' && /Debian package/.test(e.message));
      assert.equal(builder.calls.length, 1);
      assert.equal((await queue.get(id))?.state, 'refused');
      // Listed under refused (builds list --state refused), and not among the completed builds.
      assert.deepEqual((await queue.list({ states: ['refused'], clientId: 'invalid' })).map((b) => b.id), [id]);
      assert.deepEqual(await queue.list({ states: ['completed'], clientId: 'invalid' }), []);
    });
  });

  test('cancelling a running build aborts it in its worker, and its waiter gets ABORTED', async () => {
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const builder = new ScriptedBuilder(
      (input) =>
        new Promise<BuiltImage>((_resolve, reject) => {
          started();
          input.signal!.addEventListener('abort', () => reject(new AppError('ABORTED', 'build aborted')), { once: true });
        }),
    );
    await withWorker(builder, async (queue, events) => {
      const { id } = await queue.enqueue(jobFor('cancel-me'));
      const waited = queue.wait(id, { pollMs: 100 });
      await running;
      assert.equal(await queue.cancel(id), true);
      await assert.rejects(waited, (e: AppError) => e.code === 'ABORTED');
      for (let i = 0; i < 50 && !events.some((e) => e.type === 'cancelled'); i++) await delay(100);
      assert.ok(events.some((e) => e.type === 'cancelled' && e.id === id), JSON.stringify(events));
      assert.equal(builder.calls[0]!.signal!.aborted, true);
      assert.equal((await queue.get(id))?.state, 'cancelled');
      assert.equal(await queue.cancel(id), false, 'an ended build cannot be cancelled again');
    });
  });

  test('a build whose worker stops renewing its lease is swept and taken by another worker', async () => {
    const silent = await BuildQueue.open({ kind: 'postgres', url: pg.url }, tuning);
    try {
      const { id } = await silent.enqueue(jobFor('orphan'));
      // A worker that took the job and then went silent (the SIGKILL itself: queue-cluster.test).
      const taken = await silent.take();
      assert.equal(taken?.id, id);
      const builder = new ScriptedBuilder(async (input) => built(input));
      await withWorker(builder, async (queue, events) => {
        const result = await queue.wait(id, { pollMs: 100 });
        assert.equal(result.digest, sha256Digest('clients/orphan'));
        assert.ok(events.some((e) => e.type === 'swept' && e.ids.includes(id)), JSON.stringify(events));
        const info = await queue.get(id);
        assert.equal(info?.state, 'completed');
        assert.equal(info?.attempts, 2);
        // The silent worker, waking up, finds its lease gone.
        assert.equal(await silent.renew(taken!), 'lost');
      });
    } finally {
      await silent.close();
    }
  });

  test('a job whose data is not a build is refused, naming the field', async () => {
    const queue = await BuildQueue.open({ kind: 'postgres', url: pg.url }, tuning);
    try {
      const bad = { ...jobFor('hostile'), repository: '' } as BuildJob;
      const { id } = await queue.enqueue(bad);
      assert.equal(await queue.take(), undefined);
      const info = await queue.get(id);
      assert.equal(info?.state, 'refused');
      assert.match(info?.error?.message ?? '', /: data\.repository: /);
      // A client id within 64 characters but outside its grammar (clientIdSchema): refused by name.
      const badId = await queue.enqueue({ ...jobFor('hostile'), clientId: 'Hostile/../x' } as BuildJob);
      assert.equal(await queue.take(), undefined);
      const badIdInfo = await queue.get(badId.id);
      assert.equal(badIdInfo?.state, 'refused');
      assert.match(badIdInfo?.error?.message ?? '', /: data\.clientId: lowercase letters/);
      // A key no build has is named by itself, not by the object that holds it.
      const extra = await queue.enqueue({ ...jobFor('hostile'), priority: 9 } as BuildJob);
      assert.equal(await queue.take(), undefined);
      assert.match((await queue.get(extra.id))?.error?.message ?? '', /: data\.priority: unknown field$/);
      await assert.rejects(queue.get('not-a-uuid'), (e: AppError) => e.code === 'VALIDATION');
    } finally {
      await queue.close();
    }
  });

  test('a database that stops answering mid-build: the worker stops the build after its lease, a waiter gets UNAVAILABLE within the bound, not a hang', async () => {
    const own = await startPostgres(); // frozen below: its own cluster
    const queue = await BuildQueue.open({ kind: 'postgres', url: own.url }, { ...tuning, database: { connectTimeoutMs: 500, queryTimeoutMs: 500 } });
    const events: WorkerEvent[] = [];
    const stop = new AbortController();
    // A build that runs until it is stopped.
    const builder = new ScriptedBuilder((input) => new Promise((_, reject) => input.signal!.addEventListener('abort', () => reject(new AppError('ABORTED', 'stopped')), { once: true })));
    const worker = new BuildWorker({ queue, builder: planning(builder), resolveBase: async () => base, pollMs: 100, onEvent: (e) => events.push(e) });
    const running = worker.run(stop.signal);
    try {
      const { id } = await queue.enqueue(jobFor('frozen'));
      while (!events.some((e) => e.type === 'taken')) await delay(50);
      await own.freeze();
      const t0 = performance.now();
      await assert.rejects(queue.get(id), (e: AppError) => e.code === 'UNAVAILABLE' && /build queue at 127\.0\.0\.1:\d+\/postgres/.test(e.message));
      assert.ok(performance.now() - t0 < 3000, `get failed after ${Math.round(performance.now() - t0)} ms`);
      // The lease is 2 s: by then another worker may have the build, so this one stops it.
      const deadline = Date.now() + 10_000;
      while (!events.some((e) => e.type === 'lost') && Date.now() < deadline) await delay(100);
      assert.ok(events.some((e) => e.type === 'lost'), `the build was stopped: ${JSON.stringify(events.map((e) => e.type))}`);
    } finally {
      await own.thaw();
      stop.abort();
      await running;
      await queue.close();
      await own.stop();
    }
  });

  test('four processes opening the queue on a new database at once all open it (5 rounds): pg-boss alone deadlocked some of them', async () => {
    const admin = new postgres.Client({ connectionString: pg.url });
    await admin.connect();
    try {
      for (let round = 0; round < 5; round++) {
        const name = `queue_race_${round}`;
        await admin.query(`CREATE DATABASE ${name}`);
        const url = pg.url.replace(/\/postgres$/, `/${name}`);
        const opened = await Promise.allSettled(Array.from({ length: 4 }, () => BuildQueue.open({ kind: 'postgres', url }, tuning)));
        for (const o of opened) if (o.status === 'fulfilled') await o.value.close();
        const failed = opened.flatMap((o) => (o.status === 'rejected' ? [(o.reason as Error).message] : []));
        assert.deepEqual(failed, [], `round ${round}`);
        const queue = await BuildQueue.open({ kind: 'postgres', url }, tuning);
        try {
          const { id } = await queue.enqueue(jobFor('race'));
          assert.equal((await queue.get(id))?.state, 'created');
        } finally {
          await queue.close();
        }
      }
    } finally {
      await admin.end();
    }
  });

  test('a database restart shorter than a lease: the build goes on, and its waiter gets the version instead of an error', async () => {
    const own = await startPostgres(); // halted below: its own cluster
    const queue = await BuildQueue.open({ kind: 'postgres', url: own.url }, { ...tuning, leaseSeconds: 15, database: { connectTimeoutMs: 1000, queryTimeoutMs: 1000 } });
    const events: WorkerEvent[] = [];
    const stop = new AbortController();
    let restarted = false;
    // The build lasts until the database is back, and a little more.
    const builder = new ScriptedBuilder(async (input) => {
      while (!restarted) await delay(100);
      await delay(500);
      return built(input);
    });
    const worker = new BuildWorker({ queue, builder: planning(builder), resolveBase: async () => base, pollMs: 100, onEvent: (e) => events.push(e) });
    const running = worker.run(stop.signal);
    try {
      const { id } = await queue.enqueue(jobFor('restart'));
      while (!events.some((e) => e.type === 'taken')) await delay(50);
      const waited = queue.wait(id, { pollMs: 100 });
      await own.halt();
      await delay(2000);
      await own.restart();
      restarted = true;
      const result = await waited;
      assert.equal(result.digest, sha256Digest('clients/restart'));
      assert.ok(events.some((e) => e.type === 'registered'), JSON.stringify(events.map((e) => e.type)));
    } finally {
      restarted = true;
      stop.abort();
      await running;
      await queue.close();
      await own.stop();
    }
  });
});
