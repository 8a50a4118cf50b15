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
interface FileState {
  identity: FileIdentity;
  changedMs: number;
}
const stateOf = (st: BigIntStats): FileState => ({ identity: identityOf(st), changedMs: lastChangeMs(st) });
const noFile = (e: unknown): FileState => ({ identity: missing(e), changedMs: -Infinity });

async function fileState(path: string): Promise<FileState> {
  return stat(path, { bigint: true }).then(stateOf, noFile);
}

function fileStateSync(path: string): FileState {
  try {
    return stateOf(statSync(path, { bigint: true }));
  } catch (e) {
    return noFile(e);
  }
}

export async function fileIdentity(path: string): Promise<FileIdentity> {
  return (await fileState(path)).identity;
}

/**
 * How long after its last change a file's identity is not trusted to tell a later change: file
 * systems stamp times from a coarse clock (the kernel's tick, one second on ext3 or ext4 with
 * small inodes, HFS+, some network mounts), so two same-size rewrites within one tick leave the
 * same identity. Git's "racy" rule: a value read while the file was that young is read again.
 */
export const racyTickMs = 1000;

/**
 * The rule both caches below keep: a value is kept with the identity its file had, and served
 * while the file keeps it. A file changed less than `racyTickMs` before it was read is read again
 * on every call until it is older, since a rewrite within that tick could keep its identity.
 */
class IdentityEntries<V> {
  private readonly entries = new Map<string, { identity: FileIdentity; value: V }>();

  constructor(private readonly maxEntries: number) {}

  /** The value kept for `path` at this state, or a fresh `read()` (and the entry it is kept as, if it is). */
  take(path: string, statAt: number, state: FileState, read: () => V): { value: V; entry?: { identity: FileIdentity; value: V } } {
    const known = this.entries.get(path);
    if (known?.identity === state.identity) return { value: known.value };
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    // A read that throws leaves nothing behind: the entry goes before the read.
    this.entries.delete(path);
    const value = read();
    // Too young to vouch for what was read: serve it to this caller only.
    if (state.changedMs > statAt - racyTickMs) return { value };
    const entry = { identity: state.identity, value };
    this.entries.set(path, entry);
    return { value, entry };
  }

  /** Drops `path`'s entry; with `entry`, only if it is still that one (a failed read's). */
  drop(path: string, entry?: { identity: FileIdentity; value: V }): void {
    if (!entry || this.entries.get(path) === entry) this.entries.delete(path);
  }
}

/**
 * Values read from files, read again only when a file's identity changed: a stat per call
 * instead of a read and a parse, under git's racy rule (IdentityEntries). Requests that arrive
 * together share one read of an older file; a read that fails is not kept.
 * `forget` is for a writer in this process that knows better than the clock.
 */
export class FileIdentityCache<T> {
  private readonly entries: IdentityEntries<Promise<T>>;

  constructor(maxEntries = 4096) {
    this.entries = new IdentityEntries(maxEntries);
  }

  /** `read` reads `path` (what is kept until the file's identity changes). */
  async get(path: string, read: () => Promise<T>): Promise<T> {
    // Taken before the stat: the earlier the moment, the stricter the test of the file's age.
    const statAt = Date.now();
    const state = await fileState(path);
    const { value, entry } = this.entries.take(path, statAt, state, read);
    if (entry) value.catch(() => this.entries.drop(path, entry));
    return value;
  }

  forget(path: string): void {
    this.entries.drop(path);
  }
}

/**
 * The same cache for a synchronous path (a credential check on every request), where a stat and,
 * now and then, a small read are all there is: same identity, same racy rule.
 */
export class FileIdentitySyncCache<T> {
  private readonly entries: IdentityEntries<T>;

  constructor(maxEntries = 4096) {
    this.entries = new IdentityEntries(maxEntries);
  }

  /** `read` reads `path` synchronously; a read that throws is not kept. */
  get(path: string, read: () => T): T {
    const statAt = Date.now();
    return this.entries.take(path, statAt, fileStateSync(path), read).value;
  }

  forget(path: string): void {
    this.entries.drop(path);
  }
}
