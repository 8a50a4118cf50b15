import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { dirname, join } from 'node:path';
import type { Digest } from '../core/digest.js';
import { ExternalToolError, ValidationError } from '../core/errors.js';
import { run } from '../core/exec.js';
import { annotations } from '../contracts/annotations.js';
import { mediaTypes } from './media-types.js';
import { OciLayout } from './oci-layout.js';
import type { Registry } from './registry.js';

const tool = (signal?: AbortSignal): { timeoutMs: number; signal?: AbortSignal } => ({ timeoutMs: 60 * 60 * 1000, ...(signal ? { signal } : {}) });

export interface FlatExport {
  digest: Digest;
  path: string;
  size: number;
}

/**
 * A standalone qcow2: the version's chain merged by `qemu-img convert` (no backing file), then
 * `qemu-img check`ed; the file appears at `out` only when the check is clean. The chain is read
 * in place — stored blobs name their parents by digest, so the top blob opens with its whole
 * chain inside blobs/sha256/, read-only — rather than from a checkout's copy of every layer.
 */
export async function exportFlat(registry: Registry, ref: string, out: string, signal?: AbortSignal): Promise<FlatExport> {
  const work = await mkdtemp(join(registry.layout.tmpDir, `${process.pid}-flat-`));
  try {
    const target = await registry.resolveRef(ref);
    await registry.lease(target.digest);
    const m = await registry.imageManifest(target.digest);
    const foreign = m.layers.find((l) => l.mediaType !== mediaTypes.prescientLayer);
    if (foreign || m.layers.length === 0) throw new ValidationError('reference', `${ref} is not a Prescient image`);
    const chain = { digest: target.digest, top: registry.layout.blobPath(m.layers.at(-1)!.digest) };
    const tmp = join(work, 'flat.qcow2');
    await run('qemu-img', ['convert', '-f', 'qcow2', '-O', 'qcow2', chain.top, tmp], tool(signal));
    const check = await run('qemu-img', ['check', '-f', 'qcow2', tmp], { ...tool(signal), allowFailure: true });
    if (check.exitCode !== 0) throw new ExternalToolError('qemu-img', ['check', tmp], check.exitCode, check.stdout + check.stderr);
    await mkdir(dirname(out), { recursive: true });
    await rename(tmp, out).catch(async () => {
      await run('cp', ['--sparse=always', tmp, out], tool(signal));
    });
    return { digest: chain.digest, path: out, size: (await stat(out)).size };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export interface ContainerDiskExport {
  /** The version exported. */
  source: Digest;
  /** The containerDisk image's manifest digest. */
  digest: Digest;
  layout: string;
  refName: string;
  /** The flat qcow2's bytes, and the gzip layer's that carries it. */
  qcow2Bytes: number;
  layerBytes: number;
}

/**
 * A KubeVirt containerDisk: a normal OCI image (amd64/linux) with one gzip-compressed tar layer
 * (tar+gzip: what every container runtime and registry accepts; a qcow2 of binaries packs to
 * about a third) holding `disk/<name>.qcow2`, owned 107:107 (the qemu user in virt-launcher),
 * written as an OCI layout in `layoutDir` under `refName`; push it anywhere with
 * `skopeo copy oci:<dir>:<ref>`. `created` is the version's own creation time, so exporting the
 * same version twice gives the same image.
 */
export async function exportContainerDisk(
  registry: Registry,
  ref: string,
  layoutDir: string,
  options: { name?: string; refName?: string; gzipLevel?: number; signal?: AbortSignal } = {},
): Promise<ContainerDiskExport> {
  const name = options.name ?? 'disk';
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new ValidationError('--name', `${JSON.stringify(name)} is not a plain file name`);
  const level = options.gzipLevel ?? 6;
  if (!Number.isInteger(level) || level < 1 || level > 9) throw new ValidationError('gzipLevel', 'must be an integer from 1 to 9');
  const refName = options.refName ?? 'latest';
  const out = await OciLayout.open(layoutDir);
  const work = await mkdtemp(join(registry.layout.tmpDir, `${process.pid}-cdisk-`));
  try {
    const staging = join(work, 'root');
    await mkdir(join(staging, 'disk'), { recursive: true });
    const flat = await exportFlat(registry, ref, join(staging, 'disk', `${name}.qcow2`), options.signal);
    const created = (await registry.imageManifest(flat.digest)).annotations?.[annotations.created] ?? new Date().toISOString();
    const tarred = gzipTar(staging, level, options.signal);
    const layer = await out.putBlobStream(tarred, {}, options.signal);
    const config = {
      created,
      architecture: 'amd64',
      os: 'linux',
      config: {},
      rootfs: { type: 'layers', diff_ids: [tarred.diffId] },
      history: [{ created, created_by: `prescient images export --container-disk (${flat.digest})` }],
    };
    const configBlob = await out.putBlobBytes(Buffer.from(JSON.stringify(config)));
    const manifest = {
      schemaVersion: 2,
      mediaType: mediaTypes.ociManifest,
      config: { mediaType: mediaTypes.ociImageConfig, digest: configBlob.digest, size: configBlob.size },
      layers: [{ mediaType: mediaTypes.ociLayerTarGzip, digest: layer.digest, size: layer.size }],
      annotations: { [annotations.source]: flat.digest, [annotations.created]: created },
    };
    const m = await out.putBlobBytes(Buffer.from(JSON.stringify(manifest)));
    await out.updateIndex((index) => {
      index.manifests = index.manifests.filter((d) => d.annotations?.[annotations.refName] !== refName);
      index.manifests.push({ mediaType: mediaTypes.ociManifest, digest: m.digest, size: m.size, annotations: { [annotations.refName]: refName } });
    });
    return { source: flat.digest, digest: m.digest, layout: layoutDir, refName, qcow2Bytes: flat.size, layerBytes: layer.size };
  } finally {
    await rm(work, { recursive: true, force: true });
    await rm(out.tmpDir, { recursive: true, force: true });
  }
}

/**
 * The layer in one pass: tar's output is hashed (the diff_id, the uncompressed digest) and
 * gzipped on the way to the store, which hashes the compressed bytes; nothing is written twice.
 */
function gzipTar(staging: string, level: number, signal?: AbortSignal): AsyncIterable<Uint8Array> & { diffId: Digest } {
  const args = ['--create', '--file', '-', '--directory', staging, '--owner=107', '--group=107', '--numeric-owner', '--mode=u=rwX,g=rX,o=', '--mtime=@0', '--sort=name', '--format=posix', '--pax-option=delete=atime,delete=ctime', 'disk'];
  const hash = createHash('sha256');
  const result = {
    diffId: '' as Digest,
    async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
      const child = spawn('tar', args, { stdio: ['ignore', 'pipe', 'pipe'], ...(signal ? { signal } : {}) });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((res, rej) => {
        child.on('error', rej);
        child.on('close', (code) => res(code));
      });
      const gzip = createGzip({ level, chunkSize: 1 << 20 });
      const hashed = async function* (chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
        for await (const c of chunks) {
          hash.update(c);
          yield c;
        }
      };
      const feeding = pipeline(child.stdout, hashed, gzip);
      feeding.catch(() => undefined); // awaited below; a failure also ends the gzip stream early
      try {
        for await (const chunk of gzip) yield chunk as Buffer;
        await feeding;
      } finally {
        if (child.exitCode === null) child.kill();
      }
      const code = await exited;
      if (code !== 0) throw new ExternalToolError('tar', args, code, stderr);
      result.diffId = `sha256:${hash.digest('hex')}`;
    },
  };
  return result;
}
