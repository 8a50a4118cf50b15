import { createHash, randomUUID, type Hash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Digest } from '../core/digest.js';
import { OciError } from './oci-error.js';
import type { BlobWrite, OciLayout } from './oci-layout.js';

/**
 * Blob upload sessions of the distribution API (POST, then PATCH chunks, then PUT with the
 * digest). The data grows in .uploads/<id> beside the store and only becomes a blob through
 * OciLayout.adopt, i.e. after its digest was checked; a failed or cancelled upload leaves nothing.
 * The running sha256 of each session is kept in memory, so finishing does not re-read the data;
 * after a restart, or for a sha512 digest (rare: kept off the common path), it is computed from
 * the file at the end. A session expires `ttlMs` after it started
 * (24 h, as gc's sweep of .uploads): it is then unknown, and the next start removes its files.
 */
export class UploadSessions {
  readonly #layout: OciLayout;
  readonly #dir: string;
  readonly #hashes = new Map<string, { hash: Hash; offset: number }>();
  readonly #ttlMs: number;
  #lastSweep = 0;

  constructor(layout: OciLayout, options: { ttlMs?: number } = {}) {
    this.#layout = layout;
    this.#dir = join(layout.root, '.uploads');
    this.#ttlMs = options.ttlMs ?? 24 * 3600 * 1000;
  }

  async start(repository: string): Promise<string> {
    await mkdir(this.#dir, { recursive: true });
    await this.#sweep();
    const id = randomUUID();
    await writeFile(join(this.#dir, `${id}.json`), JSON.stringify({ repository, started: new Date().toISOString() }));
    await writeFile(join(this.#dir, id), '');
    this.#hashes.set(id, { hash: createHash('sha256'), offset: 0 });
    return id;
  }

  /** Bytes received so far; BLOB_UPLOAD_UNKNOWN when the session does not exist in this repository. */
  async offset(id: string, repository: string): Promise<number> {
    if (!/^[0-9a-f-]{36}$/.test(id)) throw new OciError('BLOB_UPLOAD_UNKNOWN', `no upload ${JSON.stringify(id)}`);
    const meta = await readFile(join(this.#dir, `${id}.json`), 'utf8').catch(() => undefined);
    const session = meta === undefined ? undefined : (JSON.parse(meta) as { repository: string; started: string });
    if (!session || session.repository !== repository) {
      throw new OciError('BLOB_UPLOAD_UNKNOWN', `no upload ${id} in ${repository}`);
    }
    if (this.#expired(session.started)) {
      await this.cancel(id);
      throw new OciError('BLOB_UPLOAD_UNKNOWN', `upload ${id} expired (sessions last ${Math.round(this.#ttlMs / 1000)} s): start again`, { rule: 'upload-session-ttl' });
    }
    return (await stat(join(this.#dir, id))).size;
  }

  /** Append a chunk; `start` (from Content-Range) must be the current offset. */
  async append(id: string, repository: string, body: Readable, start?: number, signal?: AbortSignal): Promise<number> {
    const offset = await this.offset(id, repository);
    if (start !== undefined && start !== offset) {
      throw new OciError('RANGE_INVALID', `chunk starts at ${start}, the upload has ${offset} bytes`, { offset });
    }
    let state = this.#hashes.get(id);
    if (state && state.offset !== offset) state = undefined;
    if (!state) this.#hashes.delete(id);
    let added = 0;
    await pipeline(
      body,
      async function* (chunks: AsyncIterable<Buffer>) {
        for await (const c of chunks) {
          state?.hash.update(c);
          added += c.length;
          yield c;
        }
      },
      createWriteStream(join(this.#dir, id), { flags: 'a' }),
      signal ? { signal } : {},
    );
    if (state) state.offset = offset + added;
    return offset + added;
  }

  /** Finish: check the whole upload against `digest` and move it into the store. */
  async finish(id: string, repository: string, digest: Digest, body?: Readable, signal?: AbortSignal, start?: number): Promise<BlobWrite> {
    const offset = await this.offset(id, repository);
    // An out-of-order closing chunk is refused before anything is written, and the session
    // stays open for the right chunk (distribution-spec: 416 for a chunk out of order).
    if (start !== undefined && start !== offset) throw new OciError('RANGE_INVALID', `chunk starts at ${start}, the upload has ${offset} bytes`, { offset });
    try {
      if (body) await this.append(id, repository, body, undefined, signal);
      const state = this.#hashes.get(id);
      const size = (await stat(join(this.#dir, id))).size;
      const known = state && state.offset === size ? { digest: `sha256:${state.hash.digest('hex')}` as Digest, size } : undefined;
      return await this.#layout.adopt(join(this.#dir, id), { digest }, known);
    } catch (e) {
      await this.cancel(id);
      throw e;
    } finally {
      this.#hashes.delete(id);
      await rm(join(this.#dir, `${id}.json`), { force: true });
    }
  }

  #expired(started: string): boolean {
    const t = Date.parse(started);
    return !Number.isFinite(t) || Date.now() - t > this.#ttlMs;
  }

  /** Removes expired sessions' files; at most once per tenth of the TTL (and a minute), so starts stay cheap. */
  async #sweep(): Promise<void> {
    const now = Date.now();
    if (now - this.#lastSweep < Math.min(60_000, this.#ttlMs / 10)) return;
    this.#lastSweep = now;
    for (const name of await readdir(this.#dir).catch(() => [] as string[])) {
      if (!name.endsWith('.json')) continue;
      const meta = await readFile(join(this.#dir, name), 'utf8').catch(() => undefined);
      let started = '';
      try {
        started = (JSON.parse(meta ?? '{}') as { started?: string }).started ?? '';
      } catch {
        /* a torn meta file: expired */
      }
      if (this.#expired(started)) await this.cancel(name.slice(0, -'.json'.length));
    }
  }

  async cancel(id: string): Promise<void> {
    this.#hashes.delete(id);
    await rm(join(this.#dir, id), { force: true });
    await rm(join(this.#dir, `${id}.json`), { force: true });
  }
}
