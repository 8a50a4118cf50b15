import type { DiskLayout } from './partitions.js';

/**
 * An open image: the one way the rest of Prescient reads, changes and runs things in a guest.
 * Every path is a guest path (absolute, as the guest sees it); backends guarantee that no path
 * or symlink in the image makes an operation reach the host, and that device nodes and fifos
 * in the image are never opened. `close` flushes and detaches everything and is safe to call
 * twice; use `withImageSession` so it also runs when the work inside fails or is aborted.
 */
export const backendNames = ['mount', 'guestfs'] as const;
export type BackendName = (typeof backendNames)[number];

export type GuestFileType = 'file' | 'directory' | 'symlink' | 'device' | 'fifo' | 'socket';

export interface GuestStat {
  type: GuestFileType;
  mode: number; // permission bits only (0o7777)
  uid: number;
  gid: number;
  size: number;
  mtimeMs: number;
}

export interface GuestDirEntry {
  name: string;
  type: GuestFileType;
}

export interface WriteOptions {
  mode?: number;
  uid?: number;
  gid?: number;
}

export interface ExecOptions {
  timeoutMs?: number;
  env?: Record<string, string>;
  input?: string;
  /** Resolve with the exit code instead of throwing on a non-zero exit. */
  allowFailure?: boolean;
  signal?: AbortSignal;
  /**
   * Host folders mounted over guest folders for this command only (package caches, say), so
   * what is written there never lands in the image. Only where `canBindHostDirs` is true.
   * The host folder itself is never written: a bind is read-only, or, when `writable`, an
   * overlay whose writes land in a folder of this session's own (see `bindWrites`).
   */
  binds?: readonly GuestBind[];
  /**
   * Share the host's network (apt downloads). Without it the command sees only a loopback
   * interface of its own (mount backend; the guestfs appliance has its own network either way).
   */
  network?: boolean;
}

export interface GuestBind {
  host: string;
  guest: string;
  writable?: boolean;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface CopyResult {
  files: number;
  directories: number;
  bytes: number;
}

export interface FilesystemUsage {
  sizeBytes: number;
  usedBytes: number;
  freeBytes: number;
}

export interface ImageSession {
  readonly imagePath: string;
  readonly backend: BackendName;
  /** Whether exec honours `binds` (the mount backend does; libguestfs cannot see host folders). */
  readonly canBindHostDirs: boolean;
  readFile(path: string): Promise<Buffer>;
  /** Replaces the file atomically (temporary file and rename in the same folder). */
  writeFile(path: string, data: string | Uint8Array, options?: WriteOptions): Promise<void>;
  /** Follows symlinks, as the guest would; undefined when nothing is there. */
  stat(path: string): Promise<GuestStat | undefined>;
  /** Does not follow a symlink in the last component. */
  lstat(path: string): Promise<GuestStat | undefined>;
  readlink(path: string): Promise<string>;
  list(path: string): Promise<GuestDirEntry[]>;
  mkdir(path: string, options?: { parents?: boolean; mode?: number }): Promise<void>;
  symlink(target: string, path: string): Promise<void>;
  chmod(path: string, mode: number): Promise<void>;
  chown(path: string, uid: number, gid: number): Promise<void>;
  remove(path: string, options?: { recursive?: boolean }): Promise<void>;
  /** Streams a host file, or a host folder recursively, to `guestPath`. */
  copyIn(hostPath: string, guestPath: string, options?: { signal?: AbortSignal } & WriteOptions): Promise<CopyResult>;
  /** sha256 (hex) of a guest file, streamed: verifies a copy where it landed. */
  sha256(path: string): Promise<string>;
  /** Size and usage of the filesystem holding `path`. */
  statfs(path: string): Promise<FilesystemUsage>;
  /** The disk's partitions and which one holds the guest root. */
  diskLayout(): Promise<DiskLayout & { rootPartition: number }>;
  /**
   * Runs argv inside the guest root, never through a host shell: in a sandbox where guest root
   * is an unprivileged host uid (mount backend), or inside the appliance VM (guestfs).
   */
  exec(argv: readonly string[], options?: ExecOptions): Promise<ExecResult>;
  /**
   * The host folder holding what commands wrote over a writable bind of `guest` in this
   * session (an overlay's upper folder), to be checked before anything is kept; undefined when
   * nothing was bound there. Removed with the session.
   */
  bindWrites(guest: string): string | undefined;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** `auto` (the default) picks `mount` when it is usable here, else `guestfs`. */
  backend?: BackendName | 'auto';
  readOnly?: boolean;
  signal?: AbortSignal;
}
