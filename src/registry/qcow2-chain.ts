import { constants } from 'node:fs';
import { copyFile, mkdir, realpath, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Digest } from '../core/digest.js';
import { ValidationError } from '../core/errors.js';
import { run } from '../core/exec.js';
import { shareFile } from '../core/share-file.js';
import { readQcow2Header, refuseExternalData, refuseProtocolBacking } from '../image/image-chain.js';
import type { BlobWrite, OciLayout } from './oci-layout.js';

/**
 * qcow2 layers as content-addressed blobs. A pipeline overlay names its backing file by an
 * absolute path in the builder's layer cache, which means nothing anywhere else. When a layer
 * is stored, a copy of it is rebased (unsafe mode: header only) onto the parent layer's hex
 * digest, a relative name. The stored blob therefore depends only on content, and inside any
 * OCI layout (blobs/sha256/<hex>) the chain even opens in place. A checkout copies the blobs
 * into a working folder and rebases each copy onto its predecessor there; stored blobs are
 * never modified, so digests never change.
 */

export interface Qcow2Info {
  format: string;
  virtualSize: number;
  backingFilename?: string;
  backingFormat?: string;
}

export async function qemuImgInfo(path: string, signal?: AbortSignal): Promise<Qcow2Info> {
  const r = await run('qemu-img', ['info', '--output=json', '-U', path], { timeoutMs: 60_000, ...(signal ? { signal } : {}) });
  const j = JSON.parse(r.stdout) as Record<string, unknown>;
  return {
    format: String(j['format']),
    virtualSize: Number(j['virtual-size']),
    ...(typeof j['backing-filename'] === 'string' ? { backingFilename: j['backing-filename'] } : {}),
    ...(typeof j['backing-filename-format'] === 'string' ? { backingFormat: j['backing-filename-format'] } : {}),
  };
}

/** The name a stored overlay uses for its backing file: the parent blob's hex digest. */
export function backingNameOf(parent: Digest): string {
  return parent.slice('sha256:'.length);
}

/**
 * Check one layer of a chain the pipeline hands over: qcow2, the base without a backing file,
 * every overlay backed by the layer before it.
 */
export async function checkChainLayer(path: string, index: number, previousPath: string | undefined, signal?: AbortSignal): Promise<Qcow2Info> {
  const field = `layers[${index}].path`;
  // The header is read before qemu-img runs on it: nothing it names is opened unchecked.
  const header = await readQcow2Header(path).catch((e: Error) => {
    throw e instanceof ValidationError ? new ValidationError(field, e.message.slice(`${e.field}: `.length)) : new ValidationError(field, `cannot read: ${e.message}`);
  });
  if (header) {
    refuseExternalData(header, field, path);
    refuseProtocolBacking(header, field, path);
  }
  let info: Qcow2Info;
  try {
    info = await qemuImgInfo(path, signal);
  } catch (e) {
    throw new ValidationError(field, `not an image qemu-img can read: ${(e as Error).message}`);
  }
  if (info.format !== 'qcow2') throw new ValidationError(field, `is ${info.format}, layers must be qcow2`);
  if (previousPath === undefined) {
    if (info.backingFilename) throw new ValidationError(field, `the base layer has a backing file (${info.backingFilename}); pass the whole chain, base first`);
    return info;
  }
  if (!info.backingFilename) throw new ValidationError(field, 'an overlay without a backing file; pass the whole chain, base first');
  const backing = resolve(dirname(path), info.backingFilename);
  const [a, b] = await Promise.all([realpath(backing).catch(() => backing), realpath(previousPath)]);
  if (a !== b) throw new ValidationError(field, `is backed by ${info.backingFilename}, not by layers[${index - 1}] (${previousPath})`);
  return info;
}

/**
 * Store one layer, rebased onto its parent blob's digest. A read-only layer that already names
 * its parent by that digest (the pipeline's content-addressed layer cache, a base) is already
 * the blob: it is hard-linked in (a reflink or a copy only across file systems), never copied
 * and rewritten. Read-only is the promise that nothing writes to it again; a writable file is
 * copied, so a later edit of it can never change a stored blob. `known` is its hash when the
 * caller has just computed it.
 */
export async function storeLayer(layout: OciLayout, path: string, parent: Digest | undefined, signal?: AbortSignal, known?: { digest: Digest; size: number }): Promise<BlobWrite & { linked: boolean }> {
  const tmp = layout.tmpPath('.qcow2');
  try {
    const info = await qemuImgInfo(path, signal);
    const readOnly = ((await stat(path)).mode & 0o222) === 0;
    if (readOnly && (info.backingFilename ?? null) === (parent ? backingNameOf(parent) : null)) {
      const how = await shareFile(path, tmp);
      const w = await layout.adopt(tmp, {}, known);
      return how === 'link' ? { ...w, written: 0, linked: w.written > 0 } : { ...w, linked: false };
    }
    await copyFile(path, tmp, constants.COPYFILE_FICLONE);
    if (parent) {
      await run('qemu-img', ['rebase', '-u', '-f', 'qcow2', '-b', backingNameOf(parent), '-F', 'qcow2', tmp], {
        timeoutMs: 120_000,
        ...(signal ? { signal } : {}),
      });
    }
    return { ...(await layout.adopt(tmp)), linked: false };
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

export interface Checkout {
  /** The top overlay: open this one. */
  top: string;
  /** Every file of the chain, base first. */
  files: string[];
}

/**
 * Materialise an openable chain in `dir` from stored layer blobs (base first): working copies
 * named `NN-<digest prefix>.qcow2`, each overlay rebased onto the copy before it.
 */
export async function checkoutChain(layout: OciLayout, layers: readonly Digest[], dir: string, signal?: AbortSignal): Promise<Checkout> {
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  for (const [i, digest] of layers.entries()) {
    const file = join(dir, `${String(i).padStart(2, '0')}-${digest.slice(7, 19)}.qcow2`);
    await copyFile(layout.blobPath(digest), file, constants.COPYFILE_FICLONE);
    const previous = files.at(-1);
    if (previous) {
      await run('qemu-img', ['rebase', '-u', '-f', 'qcow2', '-b', basename(previous), '-F', 'qcow2', file], {
        timeoutMs: 120_000,
        ...(signal ? { signal } : {}),
      });
    }
    files.push(file);
  }
  const top = files.at(-1);
  if (!top) throw new ValidationError('layers', 'the image has no layers');
  return { top, files };
}
