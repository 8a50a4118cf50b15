// Issue 16 benchmarks, in one run on this machine (median of BENCH_RUNS, 3 by default):
//  1. cold build of the web-db vector against its bare-hands floor (bench/layers-floor.sh: the
//     same work typed by hand into one overlay), alternating which goes first;
//  2. a sizes-only re-prediction (vCPUs and memory) against cold;
//  3. containerDisk bytes against the flat qcow2's, and both export times;
//  4. storage of 20 clients in 4 categories, each its own size and dataset, registered, against
//     20 standalone copies (qemu-img measure). BENCH_SKIP_STORAGE=1 leaves it out.
//   bash scripts/bench layers
import { randomBytes } from 'node:crypto';
import { link, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { paths } from '../src/core/config.js';
import { run } from '../src/core/exec.js';
import { measure } from '../src/image/qemu-img.js';
import { LayerCache } from '../src/pipeline/layer-cache.js';
import { personalize, type PersonalizeReport } from '../src/pipeline/personalize.js';
import { assemblePipeline } from '../src/pipeline/plan.js';
import { parsePolicy } from '../src/policy/policy.js';
import { exportContainerDisk, exportFlat } from '../src/registry/export.js';
import { openRegistry } from '../src/registry/registry.js';
import type { UsageVector } from '../src/contracts/usage-vector.js';
import { benchDir, sharedHome } from './support/home.js';
import { median, runsFromEnv, seconds, timeIt } from './support/stats.js';
import { categoryProfiles, profileVector, type CategoryProfile } from '../test/support/category-profiles.js';

const { paths: p, base } = await sharedHome();
const runs = runsFromEnv('BENCH_RUNS', 3);
const work = await benchDir(p.home, 'layers');
const packageCacheDir = p.packageCache;
const floorScript = join(import.meta.dirname, '../../bench/layers-floor.sh');

const profiles: Record<string, CategoryProfile> = categoryProfiles({ devSoftware: ['git', 'make'] });

/** `source` is the catalogue name the vector uses; `hostPath` the file behind it (the floor script copies it). */
type Dataset = { source: string; destination: string; sizeBytes: number; hostPath: string };

function vector(category: string, client: string, datasets: Dataset[], size: { vcpus: number; memoryMiB: number } = { vcpus: 4, memoryMiB: 8192 }): UsageVector {
  const resources = { ...size, diskGiB: 8, expectedP95CpuPercent: 50, expectedP95MemoryMiB: Math.round(size.memoryMiB * 0.6), diskReadKBps: 100, diskWriteKBps: 100, networkInKBps: 500, networkOutKBps: 900 };
  return profileVector({ profile: profiles[category]!, category, clientId: client, resources, datasets, modelId: 'bench' });
}

// The admin policy's dataset catalogue: one folder whose files the vectors name (host paths are refused at planning).
const dataDir = join(work, 'data');
await mkdir(dataDir, { recursive: true });
const policy = parsePolicy({ datasets: [{ name: 'bench', kind: 'folder', path: dataDir, maxBytes: 64 * 1024 * 1024 }] });

async function dataset(name: string, bytes: number): Promise<Dataset> {
  const hostPath = join(dataDir, name);
  await writeFile(hostPath, randomBytes(bytes));
  return { source: `bench/${name}`, destination: `/srv/data/${name}`, sizeBytes: bytes, hostPath };
}

const build = (v: UsageVector, layersDir: string, out: string): Promise<PersonalizeReport> =>
  personalize({ base, vector: v, pipeline: assemblePipeline(), outDir: join(work, out), layersDir, runtimeDir: p.runtime, packageCacheDir, policy });

const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');
const line = (name: string, xs: number[]): void => console.log(`  ${name.padEnd(22)} median ${seconds(median(xs)).padStart(9)}   runs: ${xs.map((x) => (x / 1000).toFixed(2)).join(', ')}`);
const met = (ok: boolean): string => (ok ? 'MET' : 'NOT MET');

try {
  console.log(`load average at start: ${load()}`);
  const ds = await dataset('catalogue.bin', 50 * 1024 * 1024);
  // Warm the shared package cache once, so neither side measures downloading.
  await build(vector('web-db', 'warmup', [ds]), join(work, 'layers-warmup'), 'warmup');
  await rm(join(work, 'layers-warmup'), { recursive: true, force: true });

  const cold: number[] = [];
  const floor: number[] = [];
  const resized: number[] = [];
  const flatMs: number[] = [];
  const cdiskMs: number[] = [];
  let bytes: { qcow2: number; layer: number } | undefined;
  for (let i = 0; i < runs; i++) {
    const layers = join(work, `layers-${i}`);
    // the base's content-addressed link is made once per base, not per build: not timed
    await new LayerCache(layers).adoptBase(base);
    const doCold = async (): Promise<void> => {
      cold.push(await timeIt(() => build(vector('web-db', 'c1', [ds]), layers, `cold-${i}`)));
    };
    const doFloor = async (): Promise<void> => {
      const out = join(work, `floor-${i}.qcow2`);
      floor.push(await timeIt(() => run('bash', [floorScript, base.path, out, ds.hostPath, join(packageCacheDir, 'debian-12')], { timeoutMs: 60 * 60_000 })));
      await rm(out, { force: true });
    };
    // alternate which goes first, so neither always meets a warmer page cache
    if (i % 2 === 0) await doCold().then(doFloor);
    else await doFloor().then(doCold);
    let outcomes = '';
    resized.push(
      await timeIt(async () => {
        const r = await build(vector('web-db', 'c1', [ds], { vcpus: 2 + (i % 3), memoryMiB: 4096 + 1024 * i }), layers, `resized-${i}`);
        outcomes = r.modules.map((m) => `${m.id}:${m.outcome}`).join(' ');
      }),
    );
    if (outcomes.split(' ').some((o) => o.endsWith(':built') && o !== 'sizing:built')) throw new Error(`a sizes-only re-prediction rebuilt more than sizing: ${outcomes}`);

    const registry = await openRegistry({ root: join(work, `registry-${i}`) });
    const rep = await build(vector('web-db', 'c1', [ds]), layers, `reg-${i}`);
    await registry.register({ repository: 'clients/c1', layers: rep.layers.map((path) => ({ path })), config: {} });
    flatMs.push(await timeIt(() => exportFlat(registry, 'clients/c1:v1', join(work, `flat-${i}.qcow2`))));
    let cd: Awaited<ReturnType<typeof exportContainerDisk>> | undefined;
    cdiskMs.push(await timeIt(async () => void (cd = await exportContainerDisk(registry, 'clients/c1:v1', join(work, `cdisk-${i}`), { name: 'c1' }))));
    bytes = { qcow2: cd!.qcow2Bytes, layer: cd!.layerBytes };
    await rm(join(work, `flat-${i}.qcow2`), { force: true });
    await rm(join(work, `cdisk-${i}`), { recursive: true, force: true });
    await rm(join(work, `registry-${i}`), { recursive: true, force: true });
    await rm(layers, { recursive: true, force: true });
    process.stderr.write(`run ${i + 1}/${runs} done (load ${load()})\n`);
  }

  console.log(`issue 16 on ${base.name}: web-db vector (nginx, PostgreSQL, nftables, 50 MiB dataset, 8 GiB disk, 4 GiB swap); load average now ${load()}`);
  line('cold (pipeline)', cold);
  line('floor (by hand)', floor);
  line('sizes-only re-predict', resized);
  const c = median(cold);
  console.log(`  cold / floor = ${(c / median(floor)).toFixed(2)}× (≤ 1.2×: ${met(c / median(floor) <= 1.2)})   sizes-only = ${((median(resized) / c) * 100).toFixed(1)} % of cold (≤ 10 %: ${met(median(resized) / c <= 0.1)})`);
  line('export flat qcow2', flatMs);
  line('export containerDisk', cdiskMs);
  console.log(`  containerDisk layer ${(bytes!.layer / 1024 ** 2).toFixed(1)} MiB vs flat qcow2 ${(bytes!.qcow2 / 1024 ** 2).toFixed(1)} MiB = ${((bytes!.layer / bytes!.qcow2) * 100).toFixed(1)} % (≤ 50 %: ${met(bytes!.layer / bytes!.qcow2 <= 0.5)})`);

  if (process.env.BENCH_SKIP_STORAGE !== '1') {
    // A home of its own: the base linked in, the cache and registry under it.
    const home = join(work, 'home');
    const hp = paths(home);
    await mkdir(hp.bases, { recursive: true });
    const homeBase = join(hp.bases, 'base.qcow2');
    await link(base.path, homeBase);
    const registry = await openRegistry({ root: hp.registry });
    let standalone = 0;
    const t0 = performance.now();
    const categories = Object.keys(profiles);
    for (let k = 0; k < 20; k++) {
      const category = categories[k % 4]!;
      const size = { vcpus: 1 + (k % 8), memoryMiB: 1024 * (1 + ((k * 7) % 16)) };
      const d = await dataset(`client-${k}.bin`, 1024 * 1024);
      const rep = await personalize({ base: { ...base, path: homeBase }, vector: vector(category, `client-${k}`, [d], size), pipeline: assemblePipeline(), outDir: join(work, `s-${k}`), layersDir: hp.layers, runtimeDir: p.runtime, packageCacheDir, policy });
      await registry.register({ repository: `clients/client-${k}`, layers: rep.layers.map((path) => ({ path })), config: { vmSpec: rep.spec } });
      standalone += (await measure(rep.outputs.disk!)).required;
      await rm(join(work, `s-${k}`), { recursive: true, force: true });
    }
    const du = Number((await run('du', ['-sxB1', home])).stdout.split(/\s/)[0]);
    console.log(`storage: 20 clients in 4 categories, sizes 1–8 vCPUs and 1–16 GiB, a 1 MiB dataset each, registered (${seconds(performance.now() - t0)})`);
    console.log(`  everything under the home ${(du / 1024 ** 3).toFixed(2)} GiB (du, hard links once); 20 standalone copies ${(standalone / 1024 ** 3).toFixed(2)} GiB → ${((du / standalone) * 100).toFixed(1)} % (≤ 10 %: ${met(du / standalone <= 0.1)})`);
    console.log(`  base file ${((await stat(base.path)).blocks * 512 / 1024 ** 3).toFixed(2)} GiB of it; load average now ${load()}`);
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
