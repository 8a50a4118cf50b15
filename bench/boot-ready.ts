// Issue 8 benchmark: time until nginx answers HTTP from the host —
//   the personalised image (nginx, PostgreSQL, nftables prepared by the pipeline), against
//   the base image (with cloud-init) booted with a NoCloud seed that installs and configures the
//   same packages at first boot, the usual way. Same VM size, median of BENCH_RUNS (3), one run.
//   bash scripts/bench boot-ready
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createOverlay } from '../src/image/qemu-img.js';
import { personalize } from '../src/pipeline/personalize.js';
import { assemblePipeline, type PipelinePlan } from '../src/pipeline/plan.js';
import { writeSeed } from '../src/pipeline/spec/cloud-init.js';
import { freePort, startVm } from '../src/vm/qemu-vm.js';
import { benchDir, sharedHome } from './support/home.js';
import { median, runsFromEnv, seconds } from './support/stats.js';
import { tcpInbound, testVector } from '../test/support/vectors.js';

const { paths: p, base } = await sharedHome();
const runs = runsFromEnv('BENCH_RUNS', 3);
const vm = { vcpus: 2, memoryMiB: 2048 };
const limitMs = Number(process.env.BENCH_BOOT_LIMIT_S ?? 3600) * 1000;
const work = await benchDir(p.home, 'boot-ready');

const common = {
  model: { id: 'bench', version: '1' },
  resources: { vcpus: vm.vcpus, memoryMiB: vm.memoryMiB, diskGiB: 4, expectedP95CpuPercent: 50, expectedP95MemoryMiB: 1200, diskReadKBps: 0, diskWriteKBps: 0, networkInKBps: 100, networkOutKBps: 100 },
};
const build = (subject: string, body: Record<string, unknown>, only?: string[]) =>
  personalize({
    base,
    vector: testVector({ ...common, subject: { clientId: subject }, ...body }),
    pipeline: assemblePipeline(only ? { only } : {}),
    outDir: join(work, subject),
    layersDir: p.layers,
    runtimeDir: p.runtime,
    packageCacheDir: p.packageCache,
  });

process.stderr.write('bench: the personalised image…\n');
const personalised = await build('web-db', {
  software: [{ name: 'nginx', probability: 0.9 }, { name: 'postgresql', probability: 0.9 }],
  services: [{ name: 'nginx', expectedLoad: { requestsPerSecond: 100 }, concurrency: 32 }, { name: 'postgresql', expectedLoad: { connections: 10 }, concurrency: 10 }],
  network: tcpInbound([80]),
});
const plan = JSON.parse(await readFile(personalised.outputs.plan, 'utf8')) as PipelinePlan;
process.stderr.write('bench: the base with cloud-init (the usual first-boot way)…\n');
const withCloudInit = await build('cloud-init', { software: [{ name: 'cloud-init', probability: 1 }], services: [] }, ['software']);

// The same packages and files at first boot, through cloud-init.
const files = plan.modules.flatMap((m) => m.changes).filter((c) => c.kind === 'write-file');
const extraCloudConfig = {
  package_update: true,
  packages: ['nginx', 'postgresql', 'nftables'],
  write_files: files.flatMap((f) => (f.kind === 'write-file' ? [{ path: f.path, content: f.content }] : [])),
  runcmd: [['systemctl', 'enable', '--now', 'nftables'], ['systemctl', 'restart', 'nginx', 'postgresql']],
};
const seed = await writeSeed(join(work, 'seed'), { instanceId: 'bench-first-boot', hostname: 'prescient', extraCloudConfig });
if (!seed.iso) throw new Error('genisoimage is needed for the NoCloud seed');

async function timeToNginx(disk: string, cdrom?: string): Promise<number> {
  const overlay = join(work, `boot-${Math.random().toString(16).slice(2)}.qcow2`);
  await createOverlay(disk, overlay);
  const hostPort = await freePort();
  const v = await startVm({ disk: overlay, ...vm, forwards: [{ guestPort: 80, hostPort }], runtimeDir: p.runtime, ...(cdrom ? { extraDrives: [{ file: cdrom, format: 'raw', media: 'cdrom' }] } : {}) });
  try {
    for (;;) {
      const elapsed = performance.now() - v.startedAt;
      if (elapsed > limitMs) return Number.NaN;
      try {
        const r = await fetch(`http://127.0.0.1:${hostPort}/`, { signal: AbortSignal.timeout(3000) });
        await r.arrayBuffer();
        if (r.status === 200) return performance.now() - v.startedAt;
      } catch {
        /* not up yet */
      }
      await new Promise((res) => setTimeout(res, 1000));
    }
  } finally {
    await v.stop();
    await rm(overlay, { force: true });
  }
}

const ours: number[] = [];
const usual: number[] = [];
try {
  for (let i = 0; i < runs; i++) {
    ours.push(await timeToNginx(personalised.outputs.disk!));
    process.stderr.write(`personalised run ${i + 1}: ${seconds(ours.at(-1)!)}\n`);
    usual.push(await timeToNginx(withCloudInit.outputs.disk!, seed.iso));
    process.stderr.write(`cloud-init run ${i + 1}: ${seconds(usual.at(-1)!)}\n`);
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
console.log(`time until nginx answers HTTP from the host (${vm.vcpus} vCPUs, ${vm.memoryMiB} MiB, ${process.env.BENCH_ACCEL ?? 'KVM if it works, else emulation'})`);
console.log(`  personalised image         median ${seconds(median(ours)).padStart(9)}   runs: ${ours.map((x) => (x / 1000).toFixed(1)).join(', ')}`);
console.log(`  base + cloud-init install  median ${seconds(median(usual)).padStart(9)}   runs: ${usual.map((x) => (x / 1000).toFixed(1)).join(', ')}`);
console.log(`  personalised / first-boot install = ${(median(ours) / median(usual)).toFixed(2)}  (target ≤ 0.5: ${median(ours) / median(usual) <= 0.5 ? 'MET' : 'NOT MET'})`);
