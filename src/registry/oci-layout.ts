import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { link, mkdir, open, readFile, readdir, rename, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { algorithmOf, digestAlgorithms, digestForm, hexOf, isDigest, type Digest, type DigestAlgorithm } from '../core/digest.js';
import { ValidationError } from '../core/errors.js';
import { FileIdentityCache } from '../core/file-identity.js';
import { FileLock } from '../core/file-lock.js';
import { mediaTypes } from './media-types.js';
import { OciError } from './oci-error.js';
import type { LayoutIndex } from './oci-types.js';

export interface BlobWrite {
  digest: Digest;
  size: number;
  /** Bytes that reached the store: 0 when the blob was already there. */
  written: number;
}

export interface ExpectedBlob {
  digest?: Digest;
  size?: number;
}

/**
 * An OCI image layout on disk (oci-layout, index.json, blobs/<algorithm>/<hex>: sha256, and
 * sha512 for what clients push with it) that never shows
 * anything half-written: a blob is streamed to a temporary file beside the store, fsynced,
 * checked against its digest and only then renamed into place; index.json is replaced the same
 * way under a lock between processes. Our own bookkeeping lives in dot-folders that OCI tools
 * ignore (.tmp, .uploads, .leases, .lock).
 */
export class OciLayout {
  readonly root: string;
  /** Opened only to read: nothing was created, and a layout that does not exist reads as empty. */
  readonly readOnly: boolean;
  readonly #lock: FileLock;
  /** index.json parsed, re-read when its identity changes (every write renames a new file into place). */
  readonly #index = new FileIdentityCache<LayoutIndex>(1);

  private constructor(root: string, readOnly: boolean) {
    this.root = root;
    this.readOnly = readOnly;
    this.#lock = new FileLock(join(root, '.lock'));
  }

  static async open(root: string, options: { readOnly?: boolean } = {}): Promise<OciLayout> {
    const layout = new OciLayout(root, options.readOnly === true);
    if (layout.readOnly) return layout;
    await mkdir(join(root, 'blobs', 'sha256'), { recursive: true });
    await mkdir(layout.tmpDir, { recursive: true });
    await layout.#createOnce(join(root, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    await layout.#createOnce(join(root, 'index.json'), JSON.stringify(emptyIndex()));
    return layout;
  }

  get tmpDir(): string {
    return join(this.root, '.tmp');
  }

  /** A fresh temporary path on the store's file system (so the final rename is atomic). */
  tmpPath(suffix = ''): string {
    return join(this.tmpDir, `${process.pid}-${randomBytes(8).toString('hex')}${suffix}`);
  }

  blobPath(digest: Digest): string {
    if (!isDigest(digest)) throw new OciError('DIGEST_INVALID', `${JSON.stringify(digest)} is not ${digestForm}`);
    return join(this.root, 'blobs', algorithmOf(digest), hexOf(digest));
  }

  /** The blob's size, or undefined when it is not stored. */
  async blobSize(digest: Digest): Promise<number | undefined> {
    try {
      return (await stat(this.blobPath(digest))).size;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async readBlob(digest: Digest): Promise<Buffer> {
    try {
      return await readFile(this.blobPath(digest));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new OciError('BLOB_UNKNOWN', `blob ${digest} is not stored`, { digest });
      throw e;
    }
  }

  async putBlobBytes(data: Uint8Array, expected: ExpectedBlob = {}): Promise<BlobWrite> {
    const tmp = this.tmpPath();
    await writeFile(tmp, data);
    return this.adopt(tmp, expected);
  }

  /** Stream into the store, hashing on the way with the expected digest's algorithm (one pass: the upload path of the HTTP API). */
  async putBlobStream(source: Readable | AsyncIterable<Uint8Array>, expected: ExpectedBlob = {}, signal?: AbortSignal): Promise<BlobWrite> {
    const tmp = this.tmpPath();
    const algorithm = expected.digest ? algorithmOf(expected.digest) : 'sha256';
    try {
      const hash = createHash(algorithm);
      let size = 0;
      await pipeline(
        source,
        async function* (chunks: AsyncIterable<Uint8Array>) {
          for await (const chunk of chunks) {
            hash.update(chunk);
            size += chunk.length;
            yield chunk;
          }
        },
        createWriteStream(tmp, { highWaterMark: 1 << 20 }),
        { signal },
      );
      return await this.adopt(tmp, expected, { digest: `${algorithm}:${hash.digest('hex')}`, size });
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  async putBlobFile(path: string, expected: ExpectedBlob = {}, signal?: AbortSignal): Promise<BlobWrite> {
    if (expected.digest && (await this.blobSize(expected.digest)) !== undefined) return this.#reuse(expected.digest, expected);
    return this.putBlobStream(createReadStream(path, { highWaterMark: 1 << 20 }), expected, signal);
  }

  /**
   * Move a finished temporary file (from tmpPath()) into the store: hash it (with the expected
   * digest's algorithm, sha256 when none is expected) unless the caller already did so while
   * writing, check it against what was expected, fsync, rename. The temporary file is consumed in
   * every case.
   */
  async adopt(tmp: string, expected: ExpectedBlob = {}, known?: { digest: Digest; size: number }): Promise<BlobWrite> {
    try {
      const algorithm = expected.digest ? algorithmOf(expected.digest) : 'sha256';
      const { digest, size } = known !== undefined && algorithmOf(known.digest) === algorithm ? known : await hashFile(tmp, undefined, algorithm);
      if (expected.size !== undefined && expected.size !== size) {
        throw new OciError('SIZE_INVALID', `blob is ${size} bytes, ${expected.size} were declared`, { declared: expected.size, actual: size });
      }
      if (expected.digest !== undefined && expected.digest !== digest) {
        throw new OciError('DIGEST_INVALID', `content has digest ${digest}, ${expected.digest} was declared`, { declared: expected.digest, actual: digest });
      }
      if ((await this.blobSize(digest)) !== undefined) {
        await rm(tmp, { force: true });
        return this.#reuse(digest, { size });
      }
      const fh = await open(tmp, 'r'); // fsync works on a read-only descriptor, and a linked layer is read-only
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      const path = this.blobPath(digest);
      // blobs/sha512/ exists from the first blob a client pushes with it, not in every layout.
      if (algorithm !== 'sha256') await mkdir(dirname(path), { recursive: true });
      await rename(tmp, path);
      await syncDir(dirname(path));
      return { digest, size, written: size };
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  /** A blob that is already stored: refresh its time so a concurrent gc's grace period protects it. */
  async #reuse(digest: Digest, expected: ExpectedBlob): Promise<BlobWrite> {
    const path = this.blobPath(digest);
    const now = new Date();
    await utimes(path, now, now);
    const size = (await stat(path)).size;
    if (expected.size !== undefined && expected.size !== size) {
      throw new OciError('SIZE_INVALID', `blob ${digest} is ${size} bytes, ${expected.size} were declared`);
    }
    return { digest, size, written: 0 };
  }

  async listBlobs(): Promise<Digest[]> {
    const out: Digest[] = [];
    for (const algorithm of digestAlgorithms) {
      const names = await readdir(join(this.root, 'blobs', algorithm)).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT' && algorithm !== 'sha256') return [] as string[];
        throw e;
      });
      for (const n of names) if (isDigest(`${algorithm}:${n}`)) out.push(`${algorithm}:${n}`);
    }
    return out;
  }

  async removeBlob(digest: Digest): Promise<void> {
    await unlink(this.blobPath(digest)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
  }

  /**
   * index.json as it is now: a stat per call, a read and a parse only when another writer (this
   * process or another) replaced it. What comes back is shared between callers and frozen:
   * `updateIndex` is the way to change it.
   */
  readIndex(): Promise<LayoutIndex> {
    return this.#index.get(join(this.root, 'index.json'), async () => deepFreeze(await this.#readIndexFile()));
  }

  async #readIndexFile(): Promise<LayoutIndex> {
    const text = await readFile(join(this.root, 'index.json'), 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (this.readOnly && e.code === 'ENOENT') return JSON.stringify(emptyIndex());
      throw e;
    });
    let parsed: LayoutIndex;
    try {
      parsed = JSON.parse(text) as LayoutIndex;
    } catch (e) {
      throw new ValidationError('index.json', `not JSON: ${(e as Error).message}`);
    }
    if (!Array.isArray(parsed.manifests)) throw new ValidationError('index.json.manifests', 'missing');
    return parsed;
  }

  /**
   * Read-modify-write of index.json under the lock; the new index replaces the old one
   * atomically (temporary file, fsync, rename, fsync of the folder).
   */
  updateIndex<T>(change: (index: LayoutIndex) => Promise<T> | T, signal?: AbortSignal): Promise<T> {
    return this.withLock(async () => {
      // Under the lock, from the file itself: a cached copy is frozen, and this one is changed.
      const index = await this.#readIndexFile();
      const result = await change(index);
      await this.#atomicWrite(join(this.root, 'index.json'), JSON.stringify(index, null, 2));
      this.#index.forget(join(this.root, 'index.json'));
      return result;
    }, signal);
  }

  /** Exclusive access to the layout's mutable state (index.json, gc) across processes. */
  withLock<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return this.#lock.run(fn, signal ? { signal } : {});
  }

  /** First open of a new layout: link(2) never replaces, so two processes opening at once cannot undo each other. */
  async #createOnce(path: string, text: string): Promise<void> {
    if (await exists(path)) return;
    const tmp = this.tmpPath('.json');
    await writeFile(tmp, text);
    await link(tmp, path).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
    await unlink(tmp);
    await syncDir(this.root);
  }

  async #atomicWrite(path: string, text: string): Promise<void> {
    const tmp = this.tmpPath('.json');
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    await syncDir(this.root);
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

export function emptyIndex(): LayoutIndex {
  return { schemaVersion: 2, mediaType: mediaTypes.ociIndex, manifests: [] };
}

export async function hashFile(path: string, signal?: AbortSignal, algorithm: DigestAlgorithm = 'sha256'): Promise<{ digest: Digest; size: number }> {
  const hash = createHash(algorithm);
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20, signal })) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { digest: `${algorithm}:${hash.digest('hex')}`, size };
}

async function syncDir(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
