// #17 benchmark: builds completed per hour by one and by two `prescient worker` processes on this
// machine, through the PostgreSQL build queue (pg-boss) on the throwaway cluster. JOBS builds of
// distinct clients are queued at once, each with its own disk size (so each builds its own sizing
// layer and registers its own version; the layers below are the warm cache's, as on a fleet
// where most clients share a category's software), then the workers drain the queue.
// Median of RUNS runs per worker count.
//   bash scripts/bench queue-builds          (env: JOBS=4, RUNS=1)
// What the ratio can show here: whether two workers overlap the waits of a build (qemu-img, I/O,
// PostgreSQL) on 2 shared cores; it cannot show scaling across machines, where each worker has
// its own cores and disk — there the ratio is bounded by the queue (ms per job), not the CPU.
import { spawn, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { canonicalJson } from '../src/core/canonical-json.js';
import { sha256Digest } from '../src/core/digest.js';
import { defaultVector } from '../src/contracts/default-vector.js';
import { findBase } from '../src/image/bases/catalog.js';
import { assemblePipeline } from '../src/pipeline/plan.js';
import { defaultPolicy } from '../src/policy/policy.js';
import { BuildQueue } from '../src/queue/build-queue.js';
import { openRegistry } from '../src/registry/registry.js';
import { startPostgres } from '../src/store/testing/postgres-cluster.js';
import { PipelineImageBuilder } from '../src/workflow/image-builder.js';
import { cliPath } from '../test/support/repo.js';
import { benchDir, linkedHome, sharedHome } from './support/home.js';
import { median, runsFromEnv } from './support/stats.js';

const jobs = runsFromEnv('JOBS', 4);
const runs = runsFromEnv('RUNS', 1);
const { paths: shared } = await sharedHome();
const base = { ...(await findBase(shared.bases, 'debian-12')), name: 'debian-12' };
const work = await benchDir(shared.home, 'queue-builds');
const pg = await startPostgres();
const children: ChildProcess[] = [];

async function home(name: string, registry: string): Promise<string> {
  return linkedHome(join(work, name), shared, { layers: shared.layers, registry });
}

async function oneRun(workers: number, run: number): Promise<number> {
  const registryRoot = join(work, `registry-${workers}-${run}`);
  const registry = await openRegistry({ root: registryRoot });
  const planner = new PipelineImageBuilder({ paths: shared, registry, pipeline: assemblePipeline() });
  const queue = await BuildQueue.open({ kind: 'postgres', url: pg.url });
  try {
    const policy = defaultPolicy();
    for (let i = 0; i < jobs; i++) {
      const clientId = `bench-${workers}-${run}-${i}`;
      const v = defaultVector({ subject: { category: 'general' }, horizon: { startsAt: '2026-12-01T00:00:00.000Z', hours: 168 }, generatedAt: '2026-12-01T00:00:00.000Z' });
      const vector = { ...v, resources: { ...v.resources, diskGiB: v.resources.diskGiB + 1 + i + 10 * run + 100 * workers } };
      const planDigest = await planner.planDigest({ base, vector, policy });
      await queue.enqueue({ clientId, repository: `clients/${clientId}`, base: { name: base.name, key: base.key }, vector, vectorDigest: sha256Digest(canonicalJson(vector)), planDigest, policy });
    }
    const t0 = performance.now();
    let done = 0;
    const finished = new Promise<void>((resolve, reject) => {
      for (let w = 0; w < workers; w++) {
        void home(`w${workers}-${run}-${w}`, registryRoot).then((h) => {
          const child = spawn(process.execPath, [cliPath, 'worker', '--json', '--queue-url', pg.url], { env: { ...process.env, PRESCIENT_HOME: h }, stdio: ['ignore', 'pipe', 'inherit'] });
          children.push(child);
          let buffered = '';
          child.stdout!.on('data', (b: Buffer) => {
            buffered += b.toString();
            const lines = buffered.split('\n');
            buffered = lines.pop()!;
            for (const line of lines) {
              const e = JSON.parse(line) as { type: string; message?: string };
              if (e.type === 'registered' && ++done === jobs) resolve();
              if (e.type === 'failed') reject(new Error(`a build failed: ${e.message}`));
            }
          });
        }, reject);
      }
    });
    await finished;
    const hours = (performance.now() - t0) / 3_600_000;
    for (const c of children.splice(0)) {
      c.kill('SIGTERM');
      await new Promise((r) => (c.exitCode === null ? c.once('exit', r) : r(undefined)));
    }
    return jobs / hours;
  } finally {
    await queue.close();
  }
}

try {
  const perHour: Record<number, number[]> = { 1: [], 2: [] };
  // A first build warms the layer cache below the sizing layer (not measured).
  await oneRun(1, -1).catch((e: unknown) => console.error(`warm-up: ${(e as Error).message}`));
  for (let run = 0; run < runs; run++) {
    for (const workers of [1, 2]) {
      const r = await oneRun(workers, run);
      perHour[workers]!.push(r);
      console.log(`  run ${run + 1}: ${workers} worker(s): ${r.toFixed(0)} builds/hour`);
    }
  }
  const one = median(perHour[1]!);
  const two = median(perHour[2]!);
  console.log(`\nbuilds per hour, ${jobs} builds of distinct clients per run, median of ${runs} run(s), this ${2}-core machine:`);
  console.log(`  1 worker:  ${one.toFixed(0)} builds/hour`);
  console.log(`  2 workers: ${two.toFixed(0)} builds/hour  (×${(two / one).toFixed(2)})`);
  console.log('  (2 cores shared by every process here: the ratio shows overlap of waits, not scaling across machines)');
} finally {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  await pg.stop();
  await rm(work, { recursive: true, force: true });
}
process.exit(0);
