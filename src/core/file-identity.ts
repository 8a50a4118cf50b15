import { statSync, type BigIntStats } from 'node:fs';
import { stat } from 'node:fs/promises';

/**
 * What tells a file's content may have changed without reading it: inode, size, and modification
 * and change times in nanoseconds. Writers here replace files by rename (a new inode) or rewrite
 * them (new times), so a stale value is never served after a write another process made; the
 * nanosecond times keep two writes in one millisecond apart, and the ctime an inode reused for
 * a new file. `missing` when there is no file.
 */
export type FileIdentity = string;

const identityOf = (st: BigIntStats): FileIdentity => `${st.ino}/${st.size}/${st.mtimeNs}/${st.ctimeNs}`;
const missing = (e: unknown): FileIdentity => {
  if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return 'missing';
  throw e;
};

export async function fileIdentity(path: string): Promise<FileIdentity> {
  return stat(path, { bigint: true }).then(identityOf, missing);
}

/** The same, synchronously: for callers on a synchronous path (a credential check) where one stat is all there is. */
export function fileIdentitySync(path: string): FileIdentity {
  try {
    return identityOf(statSync(path, { bigint: true }));
  } catch (e) {
    return missing(e);
  }
}

/**
 * Values read from files, read again only when a file's identity changed: a stat per call
 * instead of a read and a parse. Requests that arrive together share one read; a read that
 * fails is not kept. `forget` is for a writer in this process that knows better than the clock.
 */
export class FileIdentityCache<T> {
  private readonly entries = new Map<string, { identity: FileIdentity; value: Promise<T> }>();

  constructor(private readonly maxEntries = 4096) {}

  /** `read` reads `path` (what is kept until the file's identity changes). */
  async get(path: string, read: () => Promise<T>): Promise<T> {
    const identity = await fileIdentity(path);
    const known = this.entries.get(path);
    if (known?.identity === identity) return known.value;
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    const value = read();
    const entry = { identity, value };
    this.entries.set(path, entry);
    value.catch(() => {
      if (this.entries.get(path) === entry) this.entries.delete(path);
    });
    return value;
  }

  forget(path: string): void {
    this.entries.delete(path);
  }
}
