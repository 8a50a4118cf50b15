// Issue 2 benchmark: open a session on an overlay of the Debian base, write 100 small files,
// run one command in the guest, close — with the mount backend, the guestfs backend, and
// virt-customize doing the same edits, side by side in one run (median of several runs).
//   bash scripts/bench image-session      (BENCH_RUNS=5 BENCH_SLOW_RUNS=3 by default)
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../src/core/exec.js';
import { libguestfsEnv, kvmWorks } from '../src/image/kvm.js';
import { withImageSession } from '../src/image/open.js';
import { createOverlay } from '../src/image/qemu-img.js';
import type { BackendName } from '../src/image/session.js';
import { benchDir, sharedHome } from './support/home.js';
import { median, runsFromEnv, seconds, timeIt } from './support/stats.js';

const { paths: p, base } = await sharedHome();
const files = 100;
const fastRuns = runsFromEnv('BENCH_RUNS', 5);
const slowRuns = runsFromEnv('BENCH_SLOW_RUNS', 3);

process.stderr.write('bench: building or reusing the Debian 12 base…\n');
const work = await benchDir(p.home, 'image-session');
let n = 0;
const overlay = async (): Promise<string> => {
  const o = join(work, `o${n++}.qcow2`);
  await createOverlay(base.path, o);
  return o;
};

async function session(backend: BackendName): Promise<number> {
  const o = await overlay();
  return timeIt(() =>
    withImageSession(o, { backend }, async (s) => {
      await s.mkdir('/root/bench');
      for (let i = 0; i < files; i++) await s.writeFile(`/root/bench/f${i}`, `file ${i}\n`);
      const r = await s.exec(['sh', '-c', 'ls /root/bench | wc -l']);
      if (r.stdout.trim() !== String(files)) throw new Error(`expected ${files} files, saw ${r.stdout}`);
    }),
  );
}

async function virtCustomize(): Promise<number> {
  const o = await overlay();
  const args = ['-q', '--format', 'qcow2', '-a', o, '--no-network', '--mkdir', '/root/bench'];
  for (let i = 0; i < files; i++) args.push('--write', `/root/bench/f${i}:file ${i}`);
  args.push('--run-command', 'ls /root/bench | wc -l');
  const env = await libguestfsEnv();
  return timeIt(() => run('virt-customize', args, { env, timeoutMs: 20 * 60_000 }));
}

const results: Record<string, number[]> = { mount: [], guestfs: [], 'virt-customize': [] };
try {
  for (let i = 0; i < fastRuns; i++) results.mount!.push(await session('mount'));
  for (let i = 0; i < slowRuns; i++) {
    results.guestfs!.push(await session('guestfs'));
    results['virt-customize']!.push(await virtCustomize());
  }
} finally {
  await rm(work, { recursive: true, force: true });
}

const m = median(results.mount!);
const vc = median(results['virt-customize']!);
console.log(`image session: overlay of ${base.name}, ${files} small files + 1 command, open → close (KVM usable: ${await kvmWorks()})`);
for (const [name, xs] of Object.entries(results)) {
  console.log(`  ${name.padEnd(15)} median ${seconds(median(xs)).padStart(9)}   runs: ${xs.map((x) => (x / 1000).toFixed(2)).join(', ')}`);
}
console.log(`  virt-customize / mount = ${(vc / m).toFixed(1)}×   (target: mount < 2 s and ≥ 10× faster)  ${m < 2000 && vc / m >= 10 ? 'MET' : 'NOT MET'}`);
