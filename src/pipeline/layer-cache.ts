import { chmod, mkdir, readFile, readdir, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative } from 'node:path';
import { canonicalJson } from '../core/canonical-json.js';
import { sha256File, sha256Hex, type Digest } from '../core/digest.js';
import { shareFile } from '../core/share-file.js';
import * as qemuImg from '../image/qemu-img.js';
import type { Change } from './change.js';

/**
 * The layer cache: one qcow2 overlay per (parent, module, version, changes), published by
 * rename so that a half-built layer is never visible. A layer's record (`<key>.json`) is written
 * last and is what makes the layer exist; a qcow2 without its record is debris from a killed build.
 *
 * Layers are content-addressed files, `sha256/<hex>`, each naming its backing file by the
 * parent's hex digest (a relative name, resolved in the same folder): byte for byte what the
 * registry stores as a blob, so registering a layer is a hard link, never a second copy, and
 * removing either name (registry gc, cache gc) leaves the other intact. The base is linked in
 * the same way. Records written before this (`<key>.qcow2`, absolute backing names) still read.
 *
 * On disk a record names its files relative to the cache folder, so a cache copied or moved
 * with its home (`cp -a` of a test home) names its own files, not the ones it was copied from:
 * an image built on those would be backed by a file outside the new home's layer chain, which
 * the chain check refuses. In memory (`get`, `list`, `publish`, `adopt`) the paths are absolute.
 */
export interface LayerRecord {
  key: string;
  parent: string; // the parent's key (a base's key for the first layer)
  parentPath: string;
  module: string;
  moduleVersion: number;
  changes: Change[];
  path: string;
  createdAt: string;
  buildMs: number;
  /** The file's sha256 (content-addressed layers; absent in records of the old layout). */
  digest?: Digest;
}

/**
 * Bump when apply.ts does the same Changes differently (what lands in a layer changes), so
 * layers built the old way are not reused. 3: layers are content-addressed with relative
 * backing names, and the module order changed.
 */
export const applierVersion = 3;

export function layerKey(input: { parent: string; module: string; moduleVersion: number; changes: readonly Change[] }): string {
  return sha256Hex(canonicalJson({ applier: applierVersion, parent: input.parent, module: input.module, moduleVersion: input.moduleVersion, changes: input.changes }));
}

interface BaseRecord {
  key: string;
  source: string;
  digest: Digest;
}

export interface LayerGcResult {
  removed: { key: string; module: string; path: string }[];
  /** Bytes whose last name went: a layer the registry still holds frees nothing. */
  bytesFreed: number;
  kept: number;
  dryRun: boolean;
}

/**
 * Where layers built by other homes can be found (an external registry): asked on a cache miss,
 * before building. It stores what it finds with `LayerCache.adopt`, so the local cache is a cache
 * of it. A layer is only taken when it was built on the very parent blob we have (`parentDigest`):
 * a key names the parent by recipe key, and two homes' bases of one recipe may differ in bytes.
 */
export interface RemoteLayerSource {
  fetch(input: { key: string; parentDigest: Digest; cache: LayerCache; signal?: AbortSignal }): Promise<LayerRecord | undefined>;
}

export class LayerCache {
  constructor(readonly dir: string) {}

  get blobDir(): string {
    return join(this.dir, 'sha256');
  }

  blobPath(digest: Digest): string {
    return join(this.blobDir, digest.slice('sha256:'.length));
  }

  private recordPath(key: string): string {
    return join(this.dir, `${key}.json`);
  }

  private baseRecordPath(key: string): string {
    return join(this.dir, 'bases', `${key}.json`);
  }

  /** A temporary name for a layer being built, beside the published ones; `publish` renames it. */
  async tempPath(key: string): Promise<string> {
    await mkdir(this.blobDir, { recursive: true });
    return join(this.blobDir, `.tmp-${key}-${process.pid}.qcow2`);
  }

  /**
   * The base as the bottom of content-addressed chains: `sha256/<hex>`, a link to the base file
   * (hashed once per base key; a base is never modified, a new build is a new file and key).
   */
  async adoptBase(base: { path: string; key: string }, signal?: AbortSignal): Promise<{ path: string; digest: Digest }> {
    const known = await readFile(this.baseRecordPath(base.key), 'utf8').then((t) => JSON.parse(t) as BaseRecord, () => undefined);
    if (known) {
      const [a, b] = await Promise.all([stat(base.path).catch(() => undefined), stat(this.blobPath(known.digest)).catch(() => undefined)]);
      if (a && b && a.ino === b.ino && a.dev === b.dev) return { path: this.blobPath(known.digest), digest: known.digest };
      if (b && !a) return { path: this.blobPath(known.digest), digest: known.digest };
    }
    const digest = await sha256File(base.path, signal);
    await mkdir(this.blobDir, { recursive: true });
    await mkdir(join(this.dir, 'bases'), { recursive: true });
    const path = this.blobPath(digest);
    if (!(await stat(path).catch(() => undefined))) {
      const tmp = join(this.blobDir, `.tmp-base-${process.pid}.qcow2`);
      await rm(tmp, { force: true });
      await shareFile(base.path, tmp);
      await rename(tmp, path);
    }
    await this.#writeJson(this.baseRecordPath(base.key), { key: base.key, source: relative(this.dir, base.path), digest } satisfies BaseRecord);
    return { path, digest };
  }

  async get(key: string): Promise<LayerRecord | undefined> {
    try {
      const record = await this.#located(JSON.parse(await readFile(this.recordPath(key), 'utf8')) as LayerRecord);
      await stat(record.path);
      // the record's time is the layer's last use, which cache gc goes by
      const now = new Date();
      await utimes(this.recordPath(key), now, now).catch(() => undefined);
      return record;
    } catch {
      return undefined;
    }
  }

  /**
   * Publish a built layer: rebase it (header only) onto the parent's hex digest, hash it, make
   * it read-only and rename it to `sha256/<hex>`; then write its record.
   */
  async publish(tmp: string, record: Omit<LayerRecord, 'path' | 'createdAt' | 'digest'> & { parentDigest: Digest }, signal?: AbortSignal): Promise<LayerRecord> {
    const { parentDigest, ...rest } = record;
    await qemuImg.rebase(tmp, parentDigest.slice('sha256:'.length), { unsafe: true, backingFormat: 'qcow2', ...(signal ? { signal } : {}) });
    const digest = await sha256File(tmp, signal);
    const path = this.blobPath(digest);
    await chmod(tmp, 0o444);
    if (await stat(path).catch(() => undefined)) await rm(tmp, { force: true });
    else await rename(tmp, path);
    const full: LayerRecord = { ...rest, path, digest, createdAt: new Date().toISOString() };
    await this.#writeRecord(full);
    return full;
  }

  /**
   * Take in a layer built elsewhere (`file`, already rebased onto `record.parentDigest` by its
   * builder): checked against `record.digest`, made read-only, renamed to `sha256/<hex>`, then
   * its record written, the same publication as a layer built here. `file` is consumed.
   */
  async adopt(file: string, record: Omit<LayerRecord, 'path'> & { digest: Digest }, signal?: AbortSignal): Promise<LayerRecord> {
    const digest = await sha256File(file, signal);
    if (digest !== record.digest) {
      await rm(file, { force: true });
      throw new Error(`layer ${record.key}: content is ${digest}, its record says ${record.digest}`);
    }
    await mkdir(this.blobDir, { recursive: true });
    const path = this.blobPath(digest);
    await chmod(file, 0o444);
    if (await stat(path).catch(() => undefined)) await rm(file, { force: true });
    else await rename(file, path);
    const full: LayerRecord = { ...record, path };
    await this.#writeRecord(full);
    return full;
  }

  /** Every layer record, with the time it was last used. */
  async list(): Promise<(LayerRecord & { usedAt: Date })[]> {
    const out: (LayerRecord & { usedAt: Date })[] = [];
    for (const n of await readdir(this.dir).catch(() => [] as string[])) {
      if (!/^[a-f0-9]{64}\.json$/.test(n)) continue;
      const path = join(this.dir, n);
      try {
        const [text, st] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
        out.push({ ...(await this.#located(JSON.parse(text) as LayerRecord)), usedAt: st.mtime });
      } catch {
        // removed meanwhile
      }
    }
    return out;
  }

  /**
   * Forget layers not used for `olderThanMs`, leaves first, so every layer kept still has its
   * whole chain. Only the cache's own names go: a layer the registry registered keeps its bytes
   * under the registry's name (a hard link), and a registered version never needs the cache.
   */
  async gc(options: { olderThanMs?: number; dryRun?: boolean } = {}): Promise<LayerGcResult> {
    const cutoff = Date.now() - (options.olderThanMs ?? 7 * 24 * 3600_000);
    let live = await this.list();
    const removed: LayerGcResult['removed'] = [];
    let bytesFreed = 0;
    for (;;) {
      const parents = new Set(live.map((r) => r.parent));
      const drop = live.filter((r) => r.usedAt.getTime() <= cutoff && !parents.has(r.key));
      if (drop.length === 0) break;
      live = live.filter((r) => !drop.includes(r));
      for (const r of drop) {
        removed.push({ key: r.key, module: r.module, path: r.path });
        if (options.dryRun) continue;
        await rm(this.recordPath(r.key), { force: true });
        if (live.some((o) => o.path === r.path)) continue;
        const st = await stat(r.path).catch(() => undefined);
        if (st && st.nlink === 1) bytesFreed += st.blocks * 512;
        await rm(r.path, { force: true });
      }
    }
    if (!options.dryRun) {
      // base links whose last layer went; the base file itself (bases/) is never touched
      const parents = new Set(live.map((r) => r.parent));
      for (const n of await readdir(join(this.dir, 'bases')).catch(() => [] as string[])) {
        const rec = await readFile(join(this.dir, 'bases', n), 'utf8').then((t) => JSON.parse(t) as BaseRecord, () => undefined);
        if (!rec || parents.has(rec.key)) continue;
        await rm(join(this.dir, 'bases', n), { force: true });
        const st = await stat(this.blobPath(rec.digest)).catch(() => undefined);
        if (st && st.nlink === 1) bytesFreed += st.blocks * 512;
        await rm(this.blobPath(rec.digest), { force: true });
      }
    }
    return { removed, bytesFreed, kept: live.length, dryRun: !!options.dryRun };
  }

  /** Removes temporaries whose building process is gone. */
  async sweep(): Promise<number> {
    let removed = 0;
    for (const dir of [this.dir, this.blobDir]) {
      for (const n of await readdir(dir).catch(() => [] as string[])) {
        const m = /^\.tmp-(?:[0-9a-f]+|base)-(\d+)\.qcow2$/.exec(n) ?? /\.json\.tmp-(\d+)$/.exec(n);
        if (!m) continue;
        try {
          process.kill(Number(m[1]), 0);
        } catch {
          await rm(join(dir, n), { force: true });
          removed++;
        }
      }
    }
    return removed;
  }

  #writeRecord(record: LayerRecord): Promise<void> {
    return this.#writeJson(this.recordPath(record.key), { ...record, path: relative(this.dir, record.path), parentPath: relative(this.dir, record.parentPath) });
  }

  /** A stored record with absolute paths: relative ones resolved against this cache, old absolute ones moved here when the file is here. */
  async #located(record: LayerRecord): Promise<LayerRecord> {
    return { ...record, path: await this.#locate(record.path), parentPath: await this.#locate(record.parentPath) };
  }

  async #locate(stored: string): Promise<string> {
    if (!isAbsolute(stored)) return join(this.dir, stored);
    // written before paths were relative, perhaps by the home this cache was copied from:
    // the same name in this cache (`sha256/<hex>` or `<key>.qcow2`) is the same file
    const name = basename(stored);
    const here = basename(dirname(stored)) === 'sha256' ? join(this.blobDir, name) : join(this.dir, name);
    return (await stat(here).then(() => true, () => false)) ? here : stored;
  }

  async #writeJson(path: string, value: unknown): Promise<void> {
    const tmp = `${path}.tmp-${process.pid}`;
    await writeFile(tmp, JSON.stringify(value, null, 2));
    await rename(tmp, path);
  }
}
