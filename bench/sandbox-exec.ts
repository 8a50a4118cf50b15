// Issue 13: cold build time with guest commands sandboxed (systemd-nspawn: user namespace,
// idmapped root, seccomp, package cache through overlays and verified promotion) against the
// old unshare + chroot exec, in one run, alternating, median of BENCH_RUNS (3) each. The shared
// package cache is warmed first, so both measure building layers, not downloading.
//   bash scripts/bench sandbox-exec
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { personalize } from '../src/pipeline/personalize.js';
import { assemblePipeline } from '../src/pipeline/plan.js';
import { webDbVector } from '../test/support/vectors.js';
import { benchDir, sharedHome } from './support/home.js';
import { median, runsFromEnv, seconds, timeIt } from './support/stats.js';

const { paths: p, base } = await sharedHome();
const runs = runsFromEnv('BENCH_RUNS', 3);
const work = await benchDir(p.home, 'sandbox-exec');

// The pipeline issue's acceptance vector (nginx, PostgreSQL, ports 80 and 443), the tests' own.
const vector = webDbVector([], { subject: { clientId: 'bench', category: 'web-db' }, model: { id: 'bench', version: '1' } });

const modes = ['sandbox', 'chroot'] as const;
async function cold(mode: (typeof modes)[number], name: string): Promise<number> {
  if (mode === 'chroot') process.env.PRESCIENT_BENCH_EXEC = 'chroot';
  else delete process.env.PRESCIENT_BENCH_EXEC;
  const layersDir = join(work, `layers-${name}`);
  try {
    return await timeIt(() => personalize({ base, vector, pipeline: assemblePipeline(), outDir: join(work, name), layersDir, runtimeDir: p.runtime, packageCacheDir: p.packageCache }));
  } finally {
    delete process.env.PRESCIENT_BENCH_EXEC;
    await rm(layersDir, { recursive: true, force: true });
  }
}

try {
  await cold('sandbox', 'warm-cache'); // fills the shared package cache (verified), not measured
  const times: Record<(typeof modes)[number], number[]> = { sandbox: [], chroot: [] };
  for (let i = 0; i < runs; i++) {
    // Alternate which goes first, so a drift in the machine's load hits both alike.
    for (const mode of i % 2 === 0 ? modes : [...modes].reverse()) {
      const ms = await cold(mode, `${mode}-${i}`);
      times[mode].push(ms);
      console.error(`  run ${i + 1} ${mode}: ${seconds(ms)}`);
    }
  }
  console.log(`cold personalisation of ${base.name} (nginx, PostgreSQL, nftables, swap, 8 GiB disk; all five modules, empty layer cache, warm package cache)`);
  for (const mode of modes) console.log(`  ${mode.padEnd(8)} median ${seconds(median(times[mode])).padStart(9)}   runs: ${times[mode].map((x) => (x / 1000).toFixed(2)).join(', ')}`);
  const ratio = median(times.sandbox) / median(times.chroot);
  console.log(`  sandbox / chroot = ${(ratio * 100).toFixed(1)} % (≤ 110 %: ${ratio <= 1.1 ? 'MET' : 'NOT MET'})`);
} finally {
  await rm(work, { recursive: true, force: true });
}
