import { mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Digest } from '../core/digest.js';
import { ExternalToolError, ValidationError } from '../core/errors.js';
import { run } from '../core/exec.js';
import { annotations, mediaTypes } from './media-types.js';
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
 * `qemu-img check`ed; the file appears at `out` only when the check is clean.
 */
export async function exportFlat(registry: Registry, ref: string, out: string, signal?: AbortSignal): Promise<FlatExport> {
  const work = await mkdtemp(join(registry.layout.tmpDir, `${process.pid}-flat-`));
  try {
    const chain = await registry.checkout(ref, join(work, 'chain'), signal);
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
}

/**
 * A KubeVirt containerDisk: a normal OCI image (amd64/linux) with one uncompressed tar layer
 * holding `disk/<name>.qcow2`, owned 107:107 (the qemu user in virt-launcher), written as an
 * OCI layout in `layoutDir` under `refName`; push it anywhere with `skopeo copy oci:<dir>:<ref>`.
 */
export async function exportContainerDisk(
  registry: Registry,
  ref: string,
  layoutDir: string,
  options: { name?: string; refName?: string; signal?: AbortSignal } = {},
): Promise<ContainerDiskExport> {
  const name = options.name ?? 'disk';
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new ValidationError('--name', `${JSON.stringify(name)} is not a plain file name`);
  const refName = options.refName ?? 'latest';
  const out = await OciLayout.open(layoutDir);
  const work = await mkdtemp(join(registry.layout.tmpDir, `${process.pid}-cdisk-`));
  try {
    const staging = join(work, 'root');
    await mkdir(join(staging, 'disk'), { recursive: true });
    const flat = await exportFlat(registry, ref, join(staging, 'disk', `${name}.qcow2`), options.signal);
    const tar = out.tmpPath('.tar');
    await run('tar', ['--create', '--file', tar, '--directory', staging, '--owner=107', '--group=107', '--numeric-owner', '--mode=u=rwX,g=rX,o=', '--mtime=@0', '--sort=name', '--format=posix', '--pax-option=delete=atime,delete=ctime', 'disk'], tool(options.signal));
    const layer = await out.adopt(tar);
    const config = {
      architecture: 'amd64',
      os: 'linux',
      config: {},
      rootfs: { type: 'layers', diff_ids: [layer.digest] },
      history: [{ created_by: `prescient images export --container-disk (${flat.digest})` }],
    };
    const configBlob = await out.putBlobBytes(Buffer.from(JSON.stringify(config)));
    const manifest = {
      schemaVersion: 2,
      mediaType: mediaTypes.ociManifest,
      config: { mediaType: mediaTypes.ociImageConfig, digest: configBlob.digest, size: configBlob.size },
      layers: [{ mediaType: mediaTypes.ociLayerTar, digest: layer.digest, size: layer.size }],
      annotations: { 'io.prescient.source': flat.digest },
    };
    const m = await out.putBlobBytes(Buffer.from(JSON.stringify(manifest)));
    await out.updateIndex((index) => {
      index.manifests = index.manifests.filter((d) => d.annotations?.[annotations.refName] !== refName);
      index.manifests.push({ mediaType: mediaTypes.ociManifest, digest: m.digest, size: m.size, annotations: { [annotations.refName]: refName } });
    });
    return { source: flat.digest, digest: m.digest, layout: layoutDir, refName };
  } finally {
    await rm(work, { recursive: true, force: true });
    await rm(out.tmpDir, { recursive: true, force: true });
  }
}
