/**
 * Pull throughput of a 1 GiB layer over loopback: our OCI server (its own process) against
 * Debian's docker-registry serving the same blob, in the same run, with the same client (curl).
 * Median of several alternating runs, after one warm-up each (both from the page cache).
 */
import { spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sha256Digest } from '../src/core/digest.js';
import { run } from '../src/core/exec.js';
import { mediaTypes } from '../src/registry/media-types.js';
import { openRegistry } from '../src/registry/registry.js';
import { startDockerRegistry } from '../src/registry/testing/docker-registry.js';

const size = Number(process.env['BENCH_PULL_BYTES'] ?? 1024 ** 3);
const runs = Number(process.env['BENCH_RUNS'] ?? 5);
const here = dirname(fileURLToPath(import.meta.url));
const dir = await mkdtemp(join('/var/tmp', 'prescient-bench-pull-'));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

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

async function curl(url: string): Promise<{ bytes: number; seconds: number }> {
  const r = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{size_download} %{time_total} %{http_code}', url], { timeoutMs: 600_000 });
  const [bytes, seconds, code] = r.stdout.trim().split(' ');
  if (code !== '200' || Number(bytes) !== size) throw new Error(`GET ${url}: HTTP ${code}, ${bytes} bytes`);
  return { bytes: Number(bytes), seconds: Number(seconds) };
}

const registry = await openRegistry({ root: join(dir, 'registry') });
const theirs = await startDockerRegistry(join(dir, 'docker-registry'));
const server = spawn('node', [join(here, '..', 'src', 'server', 'testing', 'registry-serve-worker.js'), registry.root], { stdio: ['ignore', 'pipe', 'inherit'] });
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
  const port = await new Promise<number>((resolve) => server.stdout!.once('data', (c: Buffer) => resolve((JSON.parse(c.toString()) as { port: number }).port)));
  const ours = `127.0.0.1:${port}`;
  const t0 = performance.now();
  await run('skopeo', ['copy', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${ours}/bench/pull:latest`, `docker://${theirs.address}/bench/pull:latest`], { timeoutMs: 600_000 });
  process.stderr.write(`copied to docker-registry with skopeo in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);

  const urls = { prescient: `http://${ours}/v2/bench/pull/blobs/${layer.digest}`, 'docker-registry': `http://${theirs.address}/v2/bench/pull/blobs/${layer.digest}` };
  const results: Record<string, number[]> = { prescient: [], 'docker-registry': [] };
  for (const url of Object.values(urls)) await curl(url); // warm-up: page cache, connections
  for (let i = 0; i < runs; i++) {
    for (const [name, url] of i % 2 ? Object.entries(urls).reverse() : Object.entries(urls)) {
      const r = await curl(url);
      results[name]!.push(r.bytes / r.seconds / 1024 ** 2);
    }
  }
  const ourMedian = median(results['prescient']!);
  const theirMedian = median(results['docker-registry']!);
  console.log(`registry-pull: ${(size / 1024 ** 3).toFixed(2)} GiB blob over loopback, curl, median of ${runs} alternating runs`);
  console.log(`  prescient        ${ourMedian.toFixed(0)} MiB/s  (runs: ${results['prescient']!.map((x) => x.toFixed(0)).join(', ')})`);
  console.log(`  docker-registry  ${theirMedian.toFixed(0)} MiB/s  (runs: ${results['docker-registry']!.map((x) => x.toFixed(0)).join(', ')})`);
  console.log(`  ratio prescient/docker-registry: ${(ourMedian / theirMedian).toFixed(2)} (target ≥ 1.00)`);
} finally {
  server.kill('SIGTERM');
  await theirs.stop();
  await rm(dir, { recursive: true, force: true });
}
