import { statSync, type BigIntStats } from 'node:fs';
import { stat } from 'node:fs/promises';

/**
 * What tells a file's content may have changed without reading it: inode, size, and modification
 * and change times in nanoseconds. Writers here replace files by rename (a new inode) or rewrite
 * them (new times); the nanosecond times keep two writes in one millisecond apart where the file
 * system stamps them finely, and the ctime an inode reused for a new file. Where it stamps them
 * coarsely two rewrites can share one identity: FileIdentityCache's racy rule covers that.
 * `missing` when there is no file.
 */
export type FileIdentity = string;

const identityOf = (st: BigIntStats): FileIdentity => `${st.ino}/${st.size}/${st.mtimeNs}/${st.ctimeNs}`;
/**
 * The later of the modification and change times, in ms: utimes can set mtime back, never ctime,
 * so a rewrite whose mtime was set back to an old time still counts as young.
 */
const lastChangeMs = (st: BigIntStats): number => Number((st.mtimeNs > st.ctimeNs ? st.mtimeNs : st.ctimeNs) / 1_000_000n);
const missing = (e: unknown): FileIdentity => {
  if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return 'missing';
  throw e;
};

/** A file's identity and when it last changed (ms; −∞ when there is no file). */
async function fileState(path: string): Promise<{ identity: FileIdentity; changedMs: number }> {
  return stat(path, { bigint: true }).then(
    (st) => ({ identity: identityOf(st), changedMs: lastChangeMs(st) }),
    (e: unknown) => ({ identity: missing(e), changedMs: -Infinity }),
  );
}

export async function fileIdentity(path: string): Promise<FileIdentity> {
  return (await fileState(path)).identity;
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
 * How long after its last change a file's identity is not trusted to tell a later change: file
 * systems stamp times from a coarse clock (the kernel's tick, one second on ext3 or ext4 with
 * small inodes, HFS+, some network mounts), so two same-size rewrites within one tick leave the
 * same identity. Git's "racy" rule: a value read while the file was that young is read again.
 */
export const racyTickMs = 1000;

/**
 * Values read from files, read again only when a file's identity changed: a stat per call
 * instead of a read and a parse. A file changed less than `racyTickMs` before it was read is
 * read again on every call until it is older, since a rewrite within that tick could keep its
 * identity. Requests that arrive together share one read of an older file; a read that fails
 * is not kept.
 * `forget` is for a writer in this process that knows better than the clock.
 */
export class FileIdentityCache<T> {
  private readonly entries = new Map<string, { identity: FileIdentity; value: Promise<T> }>();

  constructor(private readonly maxEntries = 4096) {}

  /** `read` reads `path` (what is kept until the file's identity changes). */
  async get(path: string, read: () => Promise<T>): Promise<T> {
    // Taken before the stat: the earlier the moment, the stricter the test of the file's age.
    const statAt = Date.now();
    const { identity, changedMs } = await fileState(path);
    const known = this.entries.get(path);
    if (known?.identity === identity) return known.value;
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    const value = read();
    if (changedMs > statAt - racyTickMs) {
      // Too young to vouch for what was read: serve it to this caller only.
      this.entries.delete(path);
      return value;
    }
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
