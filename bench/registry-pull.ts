/**
 * Pull throughput of a 1 GiB layer over loopback: our OCI server (its own process) against
 * Debian's docker-registry serving the same blob, in the same run, with the same client (curl).
 * Median of several alternating runs, after one warm-up each (both from the page cache).
 * A third server, bare node:http piping the same file with createReadStream
 * (bench/support/bare-file-server.ts), is the textbook Node figure: no route, auth or framework.
 * Each server's CPU seconds and minor page faults per GiB sent (from /proc) say where its time went.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sha256Digest } from '../src/core/digest.js';
import { run } from '../src/core/exec.js';
import { mediaTypes } from '../src/registry/media-types.js';
import { openRegistry } from '../src/registry/registry.js';
import { startDockerRegistry } from '../src/registry/testing/docker-registry.js';
import { median } from './support/stats.js';

const size = Number(process.env['BENCH_PULL_BYTES'] ?? 1024 ** 3);
const runs = Number(process.env['BENCH_RUNS'] ?? 5);
const here = dirname(fileURLToPath(import.meta.url));
const dir = await mkdtemp(join('/var/tmp', 'prescient-bench-pull-'));

async function makeLayer(path: string): Promise<void> {
  const chunk = Buffer.alloc(64 << 20);
  randomFillSync(chunk);
  const fh = await open(path, 'w');
  for (let off = 0, i = 0; off < size; off += chunk.length, i++) {
    chunk.writeUInt32LE(i, 0); // every chunk distinct
    await fh.write(chunk, 0, Math.min(chunk.length, size - off));
  }
  await fh.close();
}

/** CPU seconds (user + system) and minor page faults of a process so far (proc(5): fields 10, 14, 15). */
async function usage(pid: number): Promise<{ cpu: number; faults: number }> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).replace(/^.*\) /s, '').split(' ');
  // fields[0] is field 3 (state) once "pid (comm) " is cut off
  return { cpu: (Number(fields[11]) + Number(fields[12])) / 100, faults: Number(fields[7]) };
}

function portOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => child.stdout!.once('data', (c: Buffer) => resolve((JSON.parse(c.toString()) as { port: number }).port)));
}

async function curl(url: string): Promise<{ bytes: number; seconds: number }> {
  const r = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{size_download} %{time_total} %{http_code}', url], { timeoutMs: 600_000 });
  const [bytes, seconds, code] = r.stdout.trim().split(' ');
  if (code !== '200' || Number(bytes) !== size) throw new Error(`GET ${url}: HTTP ${code}, ${bytes} bytes`);
  return { bytes: Number(bytes), seconds: Number(seconds) };
}

const registry = await openRegistry({ root: join(dir, 'registry') });
const theirs = await startDockerRegistry(join(dir, 'docker-registry'));
const server = spawn('node', [join(here, '..', 'src', 'server', 'testing', 'registry-serve-worker.js'), registry.root], { stdio: ['ignore', 'pipe', 'inherit'] });
let bare: ChildProcess | undefined;
try {
  process.stderr.write(`making a ${(size / 1024 ** 3).toFixed(2)} GiB layer…\n`);
  const layerPath = join(dir, 'layer.bin');
  await makeLayer(layerPath);
  const layer = await registry.layout.putBlobFile(layerPath);
  const config = Buffer.from('{}');
  await registry.layout.putBlobBytes(config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: mediaTypes.ociManifest,
      artifactType: mediaTypes.prescientImage,
      config: { mediaType: mediaTypes.prescientConfig, digest: sha256Digest(config), size: config.length },
      layers: [{ mediaType: mediaTypes.prescientLayer, digest: layer.digest, size: layer.size }],
    }),
  );
  await registry.putManifest('bench/pull', 'latest', manifest, mediaTypes.ociManifest);
  const ours = `127.0.0.1:${await portOf(server)}`;
  bare = spawn('node', [join(here, 'support', 'bare-file-server.js'), registry.layout.blobPath(layer.digest)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const barePort = await portOf(bare);
  const t0 = performance.now();
  await run('skopeo', ['copy', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${ours}/bench/pull:latest`, `docker://${theirs.address}/bench/pull:latest`], { timeoutMs: 600_000 });
  process.stderr.write(`copied to docker-registry with skopeo in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);

  const urls: Record<string, string> = {
    prescient: `http://${ours}/v2/bench/pull/blobs/${layer.digest}`,
    'node-bare': `http://127.0.0.1:${barePort}/`,
    'docker-registry': `http://${theirs.address}/v2/bench/pull/blobs/${layer.digest}`,
  };
  const pids: Record<string, number> = { prescient: server.pid!, 'node-bare': bare.pid!, 'docker-registry': theirs.pid };
  const names = Object.keys(urls);
  const results: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (const url of Object.values(urls)) await curl(url); // warm-up: page cache, connections
  const before = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await usage(pids[n]!)] as const)));
  for (let i = 0; i < runs; i++) {
    // each server goes first, second and third in turn
    for (const name of names.map((_, k) => names[(k + i) % names.length]!)) {
      const r = await curl(urls[name]!);
      results[name]!.push(r.bytes / r.seconds / 1024 ** 2);
    }
  }
  const gib = (runs * size) / 1024 ** 3;
  const medians: Record<string, number> = Object.fromEntries(names.map((n) => [n, median(results[n]!)]));
  console.log(`registry-pull: ${(size / 1024 ** 3).toFixed(2)} GiB blob over loopback, curl, median of ${runs} alternating runs`);
  for (const name of names) {
    const after = await usage(pids[name]!);
    const cpu = (after.cpu - before[name]!.cpu) / gib;
    const faults = (after.faults - before[name]!.faults) / gib;
    console.log(`  ${name.padEnd(16)} ${medians[name]!.toFixed(0).padStart(5)} MiB/s  server ${cpu.toFixed(2)} CPU s/GiB, ${faults.toFixed(0)} minor faults/GiB  (runs: ${results[name]!.map((x) => x.toFixed(0)).join(', ')})`);
  }
  console.log(`  ratio node-bare/docker-registry: ${(medians['node-bare']! / medians['docker-registry']!).toFixed(2)} (textbook Node: createReadStream piped)`);
  console.log(`  ratio prescient/node-bare: ${(medians['prescient']! / medians['node-bare']!).toFixed(2)}`);
  console.log(`  ratio prescient/docker-registry: ${(medians['prescient']! / medians['docker-registry']!).toFixed(2)} (target ≥ 1.00)`);
} finally {
  server.kill('SIGTERM');
  bare?.kill('SIGTERM');
  await theirs.stop();
  await rm(dir, { recursive: true, force: true });
}
