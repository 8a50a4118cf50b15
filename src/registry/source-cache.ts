import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { isDigest, type Digest } from '../core/digest.js';

/**
 * Which stored blob a pipeline layer file became, keyed by the file's identity (device, inode,
 * size, mtime) and its parent blob — layers in the builder's cache never change, so a layer that
 * is already stored is neither copied nor re-hashed — and, for a file seen under another identity,
 * by the sha256 of its content. A lost or stale entry only costs one copy.
 */
export class SourceCache {
  readonly #path: string;
  readonly #tmpPath: () => string;
  #map: Record<string, Digest> = {};
  #dirty = false;
  constructor(path: string, tmpPath: () => string) {
    this.#path = path;
    this.#tmpPath = tmpPath;
  }
  async load(): Promise<void> {
    try {
      this.#map = JSON.parse(await readFile(this.#path, 'utf8')) as Record<string, Digest>;
    } catch {
      this.#map = {};
    }
  }
  async key(path: string, parent: Digest | undefined): Promise<string> {
    const st = await stat(path, { bigint: true });
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${parent ?? '-'}`;
  }
  get(key: string): Digest | undefined {
    const d = this.#map[key];
    return d && isDigest(d) ? d : undefined;
  }
  set(key: string, digest: Digest): void {
    this.#map[key] = digest;
    this.#dirty = true;
  }
  async save(): Promise<void> {
    if (!this.#dirty) return;
    // a cache: a failed or lost save costs a copy later, never a registration
    const tmp = this.#tmpPath();
    try {
      await writeFile(tmp, JSON.stringify(this.#map));
      await rename(tmp, this.#path);
    } catch {
      await rm(tmp, { force: true });
    }
  }
}
