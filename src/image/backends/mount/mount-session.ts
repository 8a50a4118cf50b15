import { run } from '../../../core/exec.js';
import { policyRcDPath, policyRcDScript } from '../../policy-rc-d.js';
import { teardownSession } from '../../runtime-state.js';
import { statfs } from 'node:fs/promises';
import type { DiskLayout } from '../../partitions.js';
import type { CopyResult, FilesystemUsage, ExecOptions, ExecResult, GuestDirEntry, GuestStat, ImageSession, WriteOptions } from '../../session.js';
import { attachImage, type Attached } from './attach.js';
import { chrootExec } from './chroot-exec.js';
import { checkCleanFilesystem } from './clean-filesystem.js';
import { GuestFiles } from './guest-files.js';
import { bindUpperDir, pickUidBase, sandboxExec, type Sandbox } from './sandbox-exec.js';
import { join } from 'node:path';

/**
 * The benchmark's baseline only (bench/personalize.ts compares the sandbox against it): the
 * old unshare + chroot exec, in which guest code runs as host root. Never set it otherwise.
 */
const unsandboxed = (): boolean => process.env.PRESCIENT_BENCH_EXEC === 'chroot';

export class MountSession implements ImageSession {
  readonly backend = 'mount' as const;
  readonly canBindHostDirs = true;
  private readonly files: GuestFiles;
  private closed = false;
  private policyInstalled = false;
  private readonly sandbox: Sandbox;
  private readonly writableBinds = new Set<string>();

  private constructor(
    readonly imagePath: string,
    private readonly attached: Attached,
    private readonly readOnly: boolean,
  ) {
    this.files = new GuestFiles(attached.root);
    this.sandbox = { uidBase: pickUidBase(), machine: `prescient-${attached.record.id}`, scratchDir: attached.record.dir };
  }

  static async open(imagePath: string, options: { runtimeDir: string; readOnly: boolean; signal?: AbortSignal }): Promise<MountSession> {
    return new MountSession(imagePath, await attachImage(imagePath, options), options.readOnly);
  }

  /** Where the guest root is mounted on the host (for tools that must read it directly). */
  get hostRoot(): string {
    return this.attached.root;
  }

  readFile(path: string): Promise<Buffer> {
    return this.files.readFile(path);
  }
  writeFile(path: string, data: string | Uint8Array, options?: WriteOptions): Promise<void> {
    return this.files.writeFile(path, data, options);
  }
  sha256(path: string): Promise<string> {
    return this.files.sha256(path);
  }
  stat(path: string): Promise<GuestStat | undefined> {
    return this.files.stat(path);
  }
  lstat(path: string): Promise<GuestStat | undefined> {
    return this.files.lstat(path);
  }
  readlink(path: string): Promise<string> {
    return this.files.readlink(path);
  }
  list(path: string): Promise<GuestDirEntry[]> {
    return this.files.list(path);
  }
  mkdir(path: string, options?: { parents?: boolean; mode?: number }): Promise<void> {
    return this.files.mkdir(path, options);
  }
  symlink(target: string, path: string): Promise<void> {
    return this.files.symlink(target, path);
  }
  chmod(path: string, mode: number): Promise<void> {
    return this.files.chmod(path, mode);
  }
  chown(path: string, uid: number, gid: number): Promise<void> {
    return this.files.chown(path, uid, gid);
  }
  remove(path: string, options?: { recursive?: boolean }): Promise<void> {
    return this.files.remove(path, options);
  }
  copyIn(hostPath: string, guestPath: string, options?: { signal?: AbortSignal } & WriteOptions): Promise<CopyResult> {
    return this.files.copyIn(hostPath, guestPath, options);
  }

  async statfs(path: string): Promise<FilesystemUsage> {
    const s = await statfs(await this.files.resolve(path));
    return { sizeBytes: s.blocks * s.bsize, usedBytes: (s.blocks - s.bfree) * s.bsize, freeBytes: s.bavail * s.bsize };
  }

  async diskLayout(): Promise<DiskLayout & { rootPartition: number }> {
    return { ...this.attached.layout, rootPartition: this.attached.rootPartition.number };
  }

  async exec(argv: readonly string[], options?: ExecOptions): Promise<ExecResult> {
    if (!this.readOnly && !this.policyInstalled && !(await this.files.lstat(policyRcDPath))) {
      await this.files.writeFile(policyRcDPath, policyRcDScript, { mode: 0o755 });
      this.policyInstalled = true;
    }
    for (const b of options?.binds ?? []) if (b.writable) this.writableBinds.add(b.guest);
    return unsandboxed() ? chrootExec(this.files, argv, options) : sandboxExec(this.files, this.sandbox, argv, options);
  }

  bindWrites(guest: string): string | undefined {
    return this.writableBinds.has(guest) && !unsandboxed() ? join(bindUpperDir(this.sandbox, guest), 'data') : undefined;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      if (this.policyInstalled) await this.files.remove(policyRcDPath);
      // Give freed blocks back (deleted temporaries, replaced files): the overlay keeps only
      // what the guest really holds now.
      if (!this.readOnly) await run('fstrim', [this.attached.root], { allowFailure: true, timeoutMs: 120_000 });
      await run('sync', ['-f', this.attached.root], { allowFailure: true });
    } finally {
      const { record, rootPartition } = this.attached;
      const fuseFile = record.fuseFile;
      await teardownSession(
        record,
        this.readOnly || !fuseFile
          ? {}
          : {
              beforeStop: () => checkCleanFilesystem({ fuseFile, partition: rootPartition, imagePath: this.imagePath }),
            },
      );
    }
  }
}
