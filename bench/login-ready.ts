// Issue 14 benchmark: time from QEMU's start until "SSH login works and every predicted port
// answers" — the redis + git acceptance machine (2 vCPUs, 4 GiB, inbound 22 and 6379):
//   the image Prescient prepared, booted with its seed, against the same base with cloud-init
//   installing and configuring the same packages and files at first boot (the usual way), with
//   the same login and password. One run each (BENCH_RUNS for more; the median is printed).
//   bash scripts/bench login-ready
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../src/core/exec.js';
import { createOverlay } from '../src/image/qemu-img.js';
import { personalize } from '../src/pipeline/personalize.js';
import { assemblePipeline, type PipelinePlan } from '../src/pipeline/plan.js';
import { writeSeed } from '../src/pipeline/spec/cloud-init.js';
import { machineSeed, type MachineCredentials } from '../src/pipeline/spec/machine-seed.js';
import { probePort } from '../src/vm/port-probes.js';
import { freePort, startVm } from '../src/vm/qemu-vm.js';
import { benchDir, sharedHome } from './support/home.js';
import { median, runsFromEnv, seconds } from './support/stats.js';
import { tcpInbound, testVector } from '../test/support/vectors.js';

const { paths: p, base } = await sharedHome();
const runs = runsFromEnv('BENCH_RUNS', 1);
const limitMs = Number(process.env.BENCH_BOOT_LIMIT_S ?? 3600) * 1000;
const vm = { vcpus: 2, memoryMiB: 4096 };
const work = await benchDir(p.home, 'login-ready');
const key = join(work, 'id_ed25519');
await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
const pub = (await readFile(`${key}.pub`, 'utf8')).trim().split(' ').slice(0, 2).join(' ');
const login = { user: 'alice', sshAuthorizedKeys: [pub] };

const vector = testVector({
  subject: { clientId: 'bench-redis-git' },
  model: { id: 'bench', version: '1' },
  resources: { vcpus: vm.vcpus, memoryMiB: vm.memoryMiB, diskGiB: 4, expectedP95CpuPercent: 40, expectedP95MemoryMiB: 2000, diskReadKBps: 0, diskWriteKBps: 0, networkInKBps: 10, networkOutKBps: 10 },
  software: [{ name: 'redis-server', probability: 0.9 }, { name: 'git', probability: 0.9 }],
  services: [{ name: 'redis-server', expectedLoad: { connections: 10 }, concurrency: 10 }],
  network: tcpInbound([22, 6379]),
});

process.stderr.write('bench: the personalised image…\n');
const prepared = await personalize({ base, vector, pipeline: assemblePipeline(), outDir: join(work, 'prepared'), layersDir: p.layers, runtimeDir: p.runtime, packageCacheDir: p.packageCache, flatten: true, login });
const preparedCreds = JSON.parse(await readFile(prepared.outputs.credentials, 'utf8')) as MachineCredentials;

// The usual way: the bare base, and a seed that installs and writes at first boot what the
// pipeline's plan prepares (packages, files, enabled units), with the same login and password.
const plan = JSON.parse(await readFile(prepared.outputs.plan, 'utf8')) as PipelinePlan;
const changes = plan.modules.flatMap((m) => m.changes);
const { seed: firstBootSeed, credentials: firstBootCreds } = machineSeed({ plan, facts: base.facts, subject: vector.subject, versionKey: 'first-boot-install', login });
const extraCloudConfig = {
  package_update: true,
  packages: [...new Set(changes.flatMap((c) => (c.kind === 'install-packages' ? c.packages : [])))],
  // After the packages: cloud-init's write_files runs before them, and the packages' own
  // files would win; so the plan's files are written by runcmd-time (deferred) write_files.
  write_files: [
    ...changes.flatMap((c) => (c.kind === 'write-file' ? [{ path: c.path, content: c.content, permissions: `0${(c.mode ?? 0o644).toString(8)}`, defer: true }] : [])),
    ...(firstBootSeed.files ?? []).map((f) => ({ ...f, defer: true })),
  ],
  runcmd: [
    ...changes.flatMap((c) => (c.kind === 'ensure-line' ? [['sh', '-c', `grep -qxF '${c.line}' ${c.path} || echo '${c.line}' >> ${c.path}`]] : [])),
    ['systemctl', 'daemon-reload'],
    ...changes.flatMap((c) => (c.kind === 'enable-service' ? [['systemctl', 'enable', c.unit]] : [])),
    ['systemctl', 'restart', 'nftables', 'redis-server'],
  ],
};
const usual = await writeSeed(join(work, 'first-boot'), { ...firstBootSeed, files: [], extraCloudConfig });
if (!usual.iso || !prepared.outputs.seedIso) throw new Error('genisoimage is needed for the NoCloud seed');

async function timeToReady(disk: string, seedIso: string, creds: MachineCredentials): Promise<number> {
  const overlay = join(work, `boot-${Math.random().toString(16).slice(2)}.qcow2`);
  await createOverlay(disk, overlay);
  const forwards = await Promise.all([22, 6379].map(async (guestPort) => ({ guestPort, hostPort: await freePort() })));
  const v = await startVm({ disk: overlay, ...vm, forwards, runtimeDir: p.runtime, extraDrives: [{ file: seedIso, format: 'raw', media: 'cdrom' }] });
  try {
    for (;;) {
      if (performance.now() - v.startedAt > limitMs) return Number.NaN;
      const results = await Promise.all(
        forwards.map((f) => {
          const credential = creds.services.find((c) => c.port === f.guestPort);
          return probePort({ ...f, timeoutMs: 5000, ...(credential ? { credential } : {}), ...(f.guestPort === 22 ? { login: { user: 'alice', identityFile: key } } : {}) });
        }),
      );
      if (results.every((r) => r.ok)) return performance.now() - v.startedAt;
      await new Promise((res) => setTimeout(res, 2000));
    }
  } finally {
    await v.stop();
    await rm(overlay, { force: true });
  }
}

const ours: number[] = [];
const theirs: number[] = [];
try {
  for (let i = 0; i < runs; i++) {
    ours.push(await timeToReady(prepared.outputs.disk!, prepared.outputs.seedIso, preparedCreds));
    process.stderr.write(`prepared run ${i + 1}: ${seconds(ours.at(-1)!)}\n`);
    const baseDisk = join(work, 'base-copy.qcow2');
    await createOverlay(base.path, baseDisk);
    theirs.push(await timeToReady(baseDisk, usual.iso, firstBootCreds));
    process.stderr.write(`first-boot install run ${i + 1}: ${seconds(theirs.at(-1)!)}\n`);
    await rm(baseDisk, { force: true });
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
console.log(`time until SSH login with the client's key works and Redis answers PING with its password on 6379 (${vm.vcpus} vCPUs, ${vm.memoryMiB} MiB, KVM if it works, else emulation)`);
console.log(`  prepared image + seed            median ${seconds(median(ours)).padStart(9)}   runs: ${ours.map((x) => (x / 1000).toFixed(1)).join(', ')}`);
console.log(`  base + cloud-init first-boot     median ${seconds(median(theirs)).padStart(9)}   runs: ${theirs.map((x) => (x / 1000).toFixed(1)).join(', ')}`);
console.log(`  prepared / first-boot install = ${(median(ours) / median(theirs)).toFixed(2)}`);
