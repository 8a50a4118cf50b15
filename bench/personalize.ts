// Issue 3 benchmarks, in one run on this machine:
//  1. cold personalisation (all five modules, empty layer cache), warm (all layers cached) and a
//     data-only change — median of BENCH_RUNS (3) — against the equivalent virt-customize command
//     line (BENCH_SLOW_RUNS, 3 by default; it runs apt under emulation, so it is slow).
//  2. storage: 20 clients in 4 categories from one base, bytes on disk against 20 standalone copies.
//   bash scripts/bench personalize
import { randomBytes } from 'node:crypto';
import { readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../src/core/exec.js';
import { libguestfsEnv } from '../src/image/kvm.js';
import { createOverlay, measure } from '../src/image/qemu-img.js';
import { personalize } from '../src/pipeline/personalize.js';
import { parsePolicy } from '../src/policy/policy.js';
import { assemblePipeline } from '../src/pipeline/plan.js';
import type { UsageVector } from '../src/contracts/usage-vector.js';
import { benchDir, sharedHome } from './support/home.js';
import { median, runsFromEnv, seconds, timeIt } from './support/stats.js';
import { categoryProfiles, profileVector, type CategoryProfile } from '../test/support/category-profiles.js';

const { paths: p, base } = await sharedHome();
const runs = runsFromEnv('BENCH_RUNS', 3);
const slowRuns = runsFromEnv('BENCH_SLOW_RUNS', 3);
const skipVirtCustomize = process.env.BENCH_SKIP_VIRT_CUSTOMIZE === '1';
const work = await benchDir(p.home, 'personalize');

const profiles: Record<string, CategoryProfile> = categoryProfiles({ devSoftware: ['git', 'make', 'gcc'] });

function vector(category: string, client: string, datasets: { source: string; destination: string; sizeBytes: number }[]): UsageVector {
  const resources = { vcpus: 4, memoryMiB: 8192, diskGiB: 8, expectedP95CpuPercent: 55, expectedP95MemoryMiB: 5000, diskReadKBps: 100, diskWriteKBps: 100, networkInKBps: 500, networkOutKBps: 900 };
  return profileVector({ profile: profiles[category]!, category, clientId: client, resources, datasets, modelId: 'bench' });
}

async function dataset(name: string, bytes: number): Promise<{ source: string; destination: string; sizeBytes: number }> {
  await writeFile(join(work, name), randomBytes(bytes));
  return { source: `bench/${name}`, destination: `/srv/data/${name}`, sizeBytes: bytes };
}

/** The bench's datasets are files of its work folder, catalogued as one folder; the cache profile's redis port is allowed by the admin. */
const policy = parsePolicy({ datasets: [{ name: 'bench', kind: 'folder', path: work, maxBytes: 2 ** 40 }], inbound: { allow: [{ port: 6379, protocol: 'tcp' }] } });

async function build(v: UsageVector, layersDir: string, out: string) {
  return personalize({ base, vector: v, pipeline: assemblePipeline(), outDir: join(work, out), layersDir, runtimeDir: p.runtime, packageCacheDir: p.packageCache, policy });
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const n of await readdir(dir)) if (n.endsWith('.qcow2')) total += (await stat(join(dir, n))).blocks * 512;
  // content-addressed layers (issue 16); the base's link there is counted once, as the base
  for (const n of await readdir(join(dir, 'sha256')).catch(() => [] as string[])) {
    const st = await stat(join(dir, 'sha256', n));
    if (st.ino !== (await stat(base.path)).ino) total += st.blocks * 512;
  }
  return total;
}

try {
  // Warm the shared package cache once, so "cold" measures building layers, not downloading.
  const warmup = join(work, 'layers-warmup');
  await build(vector('web-db', 'warmup', [await dataset('warmup.bin', 50 * 1024 * 1024)]), warmup, 'warmup');

  const cold: number[] = [];
  const warm: number[] = [];
  const dataOnly: number[] = [];
  const ds = await dataset('catalogue.bin', 50 * 1024 * 1024);
  for (let i = 0; i < runs; i++) {
    const layers = join(work, `layers-${i}`);
    cold.push(await timeIt(() => build(vector('web-db', 'c1', [ds]), layers, `cold-${i}`)));
    warm.push(await timeIt(() => build(vector('web-db', 'c1', [ds]), layers, `warm-${i}`)));
    const changed = await dataset(`changed-${i}.bin`, 50 * 1024 * 1024);
    const r = { outcome: '' };
    dataOnly.push(
      await timeIt(async () => {
        const rep = await build(vector('web-db', 'c1', [changed]), layers, `data-${i}`);
        r.outcome = rep.modules.map((m) => m.outcome[0]).join('');
      }),
    );
    if (r.outcome !== 'srrrbb') throw new Error(`data-only change rebuilt more than the data and sizing layers: ${r.outcome}`);
    await rm(layers, { recursive: true, force: true });
  }

  console.log(`personalisation of ${base.name} for a web + database vector (nginx, PostgreSQL, nftables, 50 MB dataset, 8 GiB disk)`);
  const line = (name: string, xs: number[]): void => console.log(`  ${name.padEnd(16)} median ${seconds(median(xs)).padStart(9)}   runs: ${xs.map((x) => (x / 1000).toFixed(2)).join(', ')}`);
  line('cold', cold);
  line('warm', warm);
  line('data-only change', dataOnly);
  const c = median(cold);
  console.log(`  warm ≤ 1 s: ${median(warm) <= 1000 ? 'MET' : 'NOT MET'}   data-only = ${((median(dataOnly) / c) * 100).toFixed(1)} % of cold (≤ 20 %: ${median(dataOnly) / c <= 0.2 ? 'MET' : 'NOT MET'})`);

  // Storage: 20 clients, 5 in each of 4 categories, each with a small dataset of its own.
  const layers = join(work, 'layers-storage');
  let standalone = 0;
  for (const [ci, category] of Object.keys(profiles).entries()) {
    for (let k = 0; k < 5; k++) {
      const d = await dataset(`client-${ci}-${k}.bin`, 1024 * 1024);
      const rep = await build(vector(category, `client-${ci}-${k}`, [d]), layers, `s-${ci}-${k}`);
      standalone += (await measure(rep.outputs.disk!)).required;
    }
  }
  const shared = (await stat(base.path)).blocks * 512 + (await dirBytes(layers));
  console.log(`storage: 20 clients in 4 categories from one base`);
  console.log(`  base + all layers ${(shared / 1024 ** 3).toFixed(2)} GiB; 20 standalone copies ${(standalone / 1024 ** 3).toFixed(2)} GiB → ${((shared / standalone) * 100).toFixed(1)} % (target < 15 %: ${shared / standalone < 0.15 ? 'MET' : 'NOT MET'})`);

  const vc: number[] = [];
  if (!skipVirtCustomize) {
    const env = await libguestfsEnv();
    const plan = (await build(vector('web-db', 'c1', [ds]), join(work, 'layers-vc-plan'), 'vc-plan')).modules;
    const files = plan.flatMap((m) => m.changes).length;
    for (let i = 0; i < slowRuns; i++) {
      const o = join(work, `vc-${i}.qcow2`);
      await createOverlay(base.path, o, { sizeBytes: 8 * 1024 ** 3 });
      const confs = join(work, 'vc-files');
      await rm(confs, { recursive: true, force: true });
      await run('mkdir', ['-p', confs]);
      await writeFile(join(confs, 'nginx.conf'), 'worker_processes 4;\nevents { worker_connections 1024; }\nhttp { include /etc/nginx/sites-enabled/*; }\n');
      await writeFile(join(confs, '90-prescient-tuning.conf'), 'shared_buffers = 1984MB\nmax_connections = 30\n');
      vc.push(
        await timeIt(() =>
          run(
            'virt-customize',
            [
              '-q', '--format', 'qcow2', '-a', o, '--network',
              '--install', 'nginx,postgresql,nftables',
              '--upload', `${join(confs, 'nginx.conf')}:/etc/nginx/nginx.conf`,
              '--upload', `${join(confs, '90-prescient-tuning.conf')}:/etc/postgresql/15/main/conf.d/90-prescient-tuning.conf`,
              '--write', '/etc/nftables.conf:table inet filter { chain input { type filter hook input priority 0; policy drop; tcp dport { 22, 80, 443 } accept; } }',
              '--run-command', 'systemctl enable nginx postgresql nftables',
              '--run-command', 'fallocate -l 1024M /swapfile && chmod 600 /swapfile && mkswap /swapfile',
              '--mkdir', '/srv/data',
              '--copy-in', `${ds.source}:/srv/data`,
            ],
            { env, timeoutMs: 60 * 60_000 },
          ),
        ),
      );
      process.stderr.write(`virt-customize run ${i + 1}: ${seconds(vc.at(-1)!)} (${files} changes in our plan)\n`);
    }
  }

  if (vc.length) line('virt-customize', vc);
  if (vc.length) console.log(`  virt-customize / cold = ${(median(vc) / c).toFixed(1)}×  (≥ 3×: ${median(vc) / c >= 3 ? 'MET' : 'NOT MET'}; virt-customize cannot grow the filesystem, so it does less: no resize, a 1 GiB swap file instead of 4)`);

} finally {
  await rm(work, { recursive: true, force: true });
}
