/**
 * Registering a new version that reuses all layers but one: time and bytes written, against
 * registering the whole chain the first time. Bytes are counted twice: what the registry reports
 * (bytesWritten) and what this process actually wrote to storage (/proc/self/io write_bytes,
 * which includes temporary copies). Median of several runs, each with a fresh top overlay.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { openRegistry } from '../src/registry/registry.js';
import { addOverlay, makeChain } from '../src/registry/testing/qcow2-fixtures.js';
import { formatBytes } from '../src/cli/output.js';

const runs = Number(process.env['BENCH_RUNS'] ?? 5);
const baseMiB = Number(process.env['BENCH_BASE_MIB'] ?? 512);
const overlayMiB = Number(process.env['BENCH_OVERLAY_MIB'] ?? 64);
const overlays = 4;
const dir = await mkdtemp(join('/var/tmp', 'prescient-bench-register-'));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ioWritten = async (): Promise<number> => Number(/write_bytes: (\d+)/.exec(await readFile('/proc/self/io', 'utf8'))?.[1] ?? NaN);

try {
  process.stderr.write(`making a chain: ${baseMiB} MiB base + ${overlays} × ${overlayMiB} MiB overlays…\n`);
  const size = baseMiB + (overlays + runs + 1) * overlayMiB + 64;
  let chain = await makeChain(join(dir, 'layers'), 1, { sizeMiB: size, writeMiB: baseMiB });
  for (let i = 0; i < overlays; i++) chain = await addOverlay(chain, join(dir, 'layers', `m${i}.qcow2`), 0x40 + i, baseMiB + i * overlayMiB, overlayMiB);
  const registry = await openRegistry({ root: join(dir, 'registry') });

  let io = await ioWritten();
  let t = performance.now();
  const first = await registry.register({ repository: 'bench/client', layers: chain.files.map((path) => ({ path })), config: { run: 'first' } });
  const firstMs = performance.now() - t;
  const firstIo = (await ioWritten()) - io;
  const chainBytes = first.layers.reduce((s, l) => s + l.size, 0);

  const times: number[] = [];
  const reported: number[] = [];
  const actual: number[] = [];
  let newLayer = 0;
  for (let r = 0; r < runs; r++) {
    const next = await addOverlay(chain, join(dir, 'layers', `new${r}.qcow2`), 0x80 + r, baseMiB + overlays * overlayMiB, overlayMiB);
    io = await ioWritten();
    t = performance.now();
    const v = await registry.register({ repository: 'bench/client', layers: next.files.map((path) => ({ path })), config: { run: r } });
    times.push(performance.now() - t);
    actual.push((await ioWritten()) - io);
    reported.push(v.bytesWritten);
    newLayer = v.layers.at(-1)!.size;
    if (v.layers.filter((l) => !l.reused).length !== 1) throw new Error('expected exactly one new layer');
  }
  console.log(`registry-register: chain of ${chain.files.length + 1} layers (${formatBytes(chainBytes + newLayer)}), the new top layer ${formatBytes(newLayer)}; median of ${runs} runs`);
  console.log(`  first registration (all ${chain.files.length} layers new): ${firstMs.toFixed(0)} ms, reported ${formatBytes(first.bytesWritten)}, written to storage ${formatBytes(firstIo)}`);
  console.log(`  new version reusing all layers but one: ${median(times).toFixed(0)} ms (runs: ${times.map((x) => x.toFixed(0)).join(', ')})`);
  console.log(`    bytes written: reported ${formatBytes(median(reported))}, to storage ${formatBytes(median(actual))} — the new layer is ${formatBytes(newLayer)}, the whole chain ${formatBytes(chainBytes + newLayer)}`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
