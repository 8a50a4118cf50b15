// #17 item 3: graphile-worker against pg-boss, on the throwaway PostgreSQL cluster, to choose the
// build queue's library. For each (versions that run on Node 20: pg-boss 10, graphile-worker 0.17):
//   - latency: one no-op job enqueued, then awaited until its handler has run (sequential, RUNS jobs);
//   - throughput: JOBS no-op jobs enqueued at once, then drained by one worker of concurrency 4;
//   - fit: a second enqueue under the same dedup key is refused/merged; a failing job is retried;
//     a queued job can be cancelled; a job whose worker is SIGKILLed mid-job is taken again (how soon).
// Median of the runs.   bash scripts/bench queue-libraries     (env: RUNS=50, JOBS=200)
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import PgBoss from 'pg-boss';
import { Logger, makeWorkerUtils, run as runGraphile, type Runner } from 'graphile-worker';
import { startPostgres } from '../src/store/testing/postgres-cluster.js';
import { median, percentile, runsFromEnv } from './support/stats.js';

const RECOVERY_WAIT_MS = 30_000;
const silent = new Logger(() => () => undefined);

// A child that takes one `hang` job, says so, and never finishes it: the parent SIGKILLs it.
if (process.argv[2] === 'hang-child') {
  const [, , , lib, url] = process.argv as [string, string, string, 'pg-boss' | 'graphile-worker', string];
  if (lib === 'pg-boss') {
    const boss = new PgBoss({ connectionString: url, schema: 'bench_boss', supervise: false });
    boss.on('error', () => undefined);
    await boss.start();
    await boss.work('hang', { pollingIntervalSeconds: 0.5 }, async () => {
      process.stdout.write('started\n');
      await new Promise(() => undefined);
    });
  } else {
    await runGraphile({
      connectionString: url,
      schema: 'bench_graphile',
      concurrency: 1,
      noHandleSignals: true,
      logger: silent,
      taskList: {
        hang: async () => {
          process.stdout.write('started\n');
          await new Promise(() => undefined);
        },
      },
    });
  }
  await new Promise(() => undefined);
}

const runs = runsFromEnv('RUNS', 50);

/** Enqueue → handler done, one job at a time, `runs` times: `send` enqueues a no-op job whose handler calls `done.get(token)`. */
async function latencies(done: Map<string, () => void>, send: (token: string) => void): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const token = String(i);
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      done.set(token, resolve);
      send(token);
    });
    out.push(performance.now() - t0);
  }
  return out;
}
const jobs = runsFromEnv('JOBS', 200);
const pg = await startPostgres();

async function killedMidJob(lib: 'pg-boss' | 'graphile-worker'): Promise<void> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'hang-child', lib, pg.url], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout!.on('data', (b: Buffer) => b.toString().includes('started') && resolve()));
  process.kill(child.pid!, 'SIGKILL');
  await new Promise((r) => child.once('exit', r));
}

interface Figures {
  latencyMs: number[];
  throughputPerS: number;
  dedup: string;
  retries: string;
  cancel: string;
  recovery: string;
}

async function measureBoss(): Promise<Figures> {
  // Maintenance (which fails expired active jobs) every second, so the lease is the job's expiry.
  const boss = new PgBoss({ connectionString: pg.url, schema: 'bench_boss', maintenanceIntervalSeconds: 1 });
  boss.on('error', (e) => console.error('pg-boss:', e.message));
  await boss.start();
  for (const [name, policy] of [['noop', 'standard'], ['keyed', 'stately'], ['flaky', 'standard'], ['hang', 'standard'], ['later', 'standard']] as const) {
    await boss.createQueue(name, { name, policy });
  }
  const done = new Map<string, () => void>();
  await boss.work<{ token: string }>('noop', { pollingIntervalSeconds: 0.5, batchSize: 1 }, async ([job]) => done.get(job!.data.token)?.());
  const latencyMs = await latencies(done, (token) => void boss.send('noop', { token }));
  await boss.offWork('noop');
  let left = jobs;
  const drained = new Promise<void>((resolve) => {
    done.clear();
    const t = (): void => void (--left === 0 && resolve());
    void boss.work('noop', { pollingIntervalSeconds: 0.5, batchSize: 4 }, async (batch) => batch.forEach(t));
  });
  const t0 = performance.now();
  await boss.insert(Array.from({ length: jobs }, (_, i) => ({ name: 'noop', data: { i } })));
  await drained;
  const throughputPerS = jobs / ((performance.now() - t0) / 1000);

  const first = await boss.send('keyed', {}, { singletonKey: 'client/base/plan' });
  const second = await boss.send('keyed', {}, { singletonKey: 'client/base/plan' });
  const dedup = first && second === null ? 'yes (stately queue + singletonKey: 2nd send → null)' : `no (${first}, ${second})`;

  let attempts = 0;
  const retried = new Promise<void>((resolve) =>
    void boss.work('flaky', { pollingIntervalSeconds: 0.5 }, async () => {
      if (++attempts < 3) throw new Error('flaky');
      resolve();
    }),
  );
  const r0 = performance.now();
  await boss.send('flaky', {}, { retryLimit: 3, retryDelay: 1, retryBackoff: true });
  await Promise.race([retried, new Promise((r) => setTimeout(r, 30_000))]);
  const retries = attempts >= 3 ? `yes (3 attempts in ${((performance.now() - r0) / 1000).toFixed(1)} s, exponential backoff from 1 s)` : `no (${attempts} attempts)`;

  const later = await boss.send('later', {}, { startAfter: 60 });
  await boss.cancel('later', later!);
  const cancelled = await boss.getJobById('later', later!);
  const cancel = cancelled?.state === 'cancelled' ? 'yes (cancel(name, id); an active job is marked, its worker must poll getJobById)' : `no (${cancelled?.state})`;

  const hang = await boss.send('hang', {}, { expireInSeconds: 5, retryLimit: 1, retryDelay: 0 });
  await killedMidJob('pg-boss');
  const k0 = performance.now();
  const retaken = new Promise<void>((resolve) => void boss.work('hang', { pollingIntervalSeconds: 0.5 }, async ([job]) => job!.id === hang && resolve()));
  const took = await Promise.race([retaken.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), RECOVERY_WAIT_MS))]);
  const recovery = took
    ? `yes, after its expiry (5 s here): retaken ${((performance.now() - k0) / 1000).toFixed(1)} s after the kill`
    : `not within ${RECOVERY_WAIT_MS / 1000} s`;
  await boss.stop({ graceful: false, wait: true, timeout: 2000 });
  return { latencyMs, throughputPerS, dedup, retries, cancel, recovery };
}

async function measureGraphile(): Promise<Figures> {
  const schema = 'bench_graphile';
  const utils = await makeWorkerUtils({ connectionString: pg.url, schema, logger: silent });
  await utils.migrate();
  const done = new Map<string, () => void>();
  let left = -1;
  let drainedResolve: () => void = () => undefined;
  let attempts = 0;
  let retriedResolve: () => void = () => undefined;
  let retakenResolve: () => void = () => undefined;
  let hangCalls = 0;
  const runner: Runner = await runGraphile({
    connectionString: pg.url,
    schema,
    concurrency: 4,
    noHandleSignals: true,
    logger: silent,
    taskList: {
      noop: async (payload) => {
        const p = payload as { token?: string };
        if (p.token) done.get(p.token)?.();
        else if (--left === 0) drainedResolve();
      },
      flaky: async () => {
        if (++attempts < 3) throw new Error('flaky');
        retriedResolve();
      },
      hang: async () => {
        hangCalls++;
        retakenResolve();
      },
    },
  });
  const latencyMs = await latencies(done, (token) => void runner.addJob('noop', { token }));
  left = jobs;
  const drained = new Promise<void>((resolve) => (drainedResolve = resolve));
  const t0 = performance.now();
  await utils.addJobs(Array.from({ length: jobs }, (_, i) => ({ identifier: 'noop', payload: { i } })));
  await drained;
  const throughputPerS = jobs / ((performance.now() - t0) / 1000);

  // A job key merges a second add into the first while it is queued (not while it runs: then a new job is made).
  const a = await utils.addJob('noop-later', {}, { jobKey: 'client/base/plan', runAt: new Date(Date.now() + 60_000) });
  const b = await utils.addJob('noop-later', {}, { jobKey: 'client/base/plan', jobKeyMode: 'preserve_run_at', runAt: new Date(Date.now() + 60_000) });
  const dedup = a.id === b.id ? 'yes while queued (jobKey; a locked job gets a new one behind it)' : `no (${a.id}, ${b.id})`;

  const retried = new Promise<void>((resolve) => (retriedResolve = resolve));
  const r0 = performance.now();
  await utils.addJob('flaky', {}, { maxAttempts: 3 });
  const took3 = await Promise.race([retried.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 30_000))]);
  const retries = took3
    ? `yes (3 attempts in ${((performance.now() - r0) / 1000).toFixed(1)} s; backoff exp(min(attempts, 10)) s, fixed)`
    : `yes, but fixed backoff exp(attempts) s: ${attempts} attempts in 30 s`;

  const failed = await utils.permanentlyFailJobs([a.id], 'cancelled');
  const cancel = failed.length === 1
    ? 'only by permanentlyFailJobs(ids) (or SQL remove_job(key) while queued); a running job\'s worker is not told'
    : 'no';

  // The hang job for the child: run by the child alone (ours would take it first), so stop our runner.
  await runner.stop();
  await utils.addJob('hang', {}, { maxAttempts: 2 });
  await killedMidJob('graphile-worker');
  const k0 = performance.now();
  const retaken = new Promise<void>((resolve) => (retakenResolve = resolve));
  const second = await runGraphile({ connectionString: pg.url, schema, concurrency: 1, noHandleSignals: true, logger: silent, pollInterval: 500, taskList: { hang: async () => { hangCalls++; retakenResolve(); } } });
  const took = await Promise.race([retaken.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), RECOVERY_WAIT_MS))]);
  const recovery = took
    ? `yes, retaken ${((performance.now() - k0) / 1000).toFixed(1)} s after the kill`
    : `not within ${RECOVERY_WAIT_MS / 1000} s (a locked job is freed after 4 h, or by forceUnlockWorkers(ids) of a worker known dead)`;
  await second.stop();
  await utils.release();
  return { latencyMs, throughputPerS, dedup, retries, cancel, recovery };
}

try {
  const results: Array<[string, Figures]> = [];
  results.push(['pg-boss 10.4.2', await measureBoss()]);
  results.push(['graphile-worker 0.17.3', await measureGraphile()]);
  console.log(`\nno-op jobs on a local PostgreSQL (${runs} sequential for latency, ${jobs} at once for throughput)`);
  for (const [name, f] of results) {
    console.log(`\n${name}`);
    console.log(`  enqueue → handler done: median ${median(f.latencyMs).toFixed(1)} ms, p95 ${percentile(f.latencyMs, 95).toFixed(1)} ms`);
    console.log(`  throughput: ${f.throughputPerS.toFixed(0)} jobs/s`);
    console.log(`  dedup key: ${f.dedup}`);
    console.log(`  retries: ${f.retries}`);
    console.log(`  cancel: ${f.cancel}`);
    console.log(`  worker SIGKILLed mid-job: ${f.recovery}`);
  }
} finally {
  await pg.stop();
}
process.exit(0);
