import { randomBytes } from 'node:crypto';
import { lstat, readFile, readdir, rm, stat as hostStat, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { run } from '../../../core/exec.js';
import { ExternalToolError, NotFoundError, UnsafePathError, ValidationError } from '../../../core/errors.js';
import { assertGuestPath } from '../../guest-path.js';
import { policyRcDPath, policyRcDScript } from '../../policy-rc-d.js';
import { detectFormat } from '../../qemu-img.js';
import { createSessionRecord, processComm, saveSessionRecord, teardownSession, type SessionRecord } from '../../runtime-state.js';
import type { DiskLayout, Partition } from '../../partitions.js';
import type { CopyResult, FilesystemUsage, ExecOptions, ExecResult, GuestDirEntry, GuestFileType, GuestStat, ImageSession, WriteOptions } from '../../session.js';
import { Guestfish, GuestfishCommandError } from './guestfish.js';

const typeByFtyp: Record<string, GuestFileType> = { b: 'device', c: 'device', d: 'directory', f: 'fifo', l: 'symlink', r: 'file', s: 'socket' };

function typeOfMode(mode: number): GuestFileType {
  switch (mode & 0o170000) {
    case 0o100000:
      return 'file';
    case 0o040000:
      return 'directory';
    case 0o120000:
      return 'symlink';
    case 0o010000:
      return 'fifo';
    case 0o140000:
      return 'socket';
    default:
      return 'device';
  }
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function isMissing(e: unknown): boolean {
  return e instanceof GuestfishCommandError && /No such file|not found|ENOENT/i.test(e.stderr);
}

/** How long the appliance may take to start (`run`). */
const launchTimeoutMs = 10 * 60_000;

/**
 * The libguestfs backend: the image is opened inside a small appliance VM, so it needs neither
 * root nor loop devices, and no path in the image can reach the host at all (every operation
 * happens inside the appliance). Slower: the appliance launch dominates under emulation.
 */
export class GuestfsSession implements ImageSession {
  readonly backend = 'guestfs' as const;
  readonly canBindHostDirs = false;
  private closed = false;
  private policyInstalled = false;

  private constructor(
    readonly imagePath: string,
    private readonly fish: Guestfish,
    private readonly record: SessionRecord,
    private readonly readOnly: boolean,
    private readonly rootDevice: string,
  ) {}

  static async open(imagePath: string, options: { runtimeDir: string; readOnly: boolean; signal?: AbortSignal }): Promise<GuestfsSession> {
    const format = await detectFormat(imagePath);
    const record = await createSessionRecord(options.runtimeDir, { backend: 'guestfs', image: imagePath });
    let fish: Guestfish | undefined;
    try {
      fish = await Guestfish.listen(join(record.dir, 'guestfish.err'), options.signal);
      record.daemonPid = fish.pid;
      record.daemonName = await processComm(fish.pid);
      await saveSessionRecord(record);
      const call = (args: string[]): Promise<string> => fish!.call(args, options.signal ? { signal: options.signal } : {});
      await call(['add-drive', imagePath, `format:${format}`, `readonly:${options.readOnly}`]);
      // About 20 s under emulation; an appliance that has not answered in 10 min never will (a
      // kernel that hangs under KVM printed nothing for hours), and a hang must fail, not wait.
      await fish.call(['run'], { timeoutMs: launchTimeoutMs, ...(options.signal ? { signal: options.signal } : {}) }).catch((e: Error) => {
        throw new Error(`the libguestfs appliance did not start within ${launchTimeoutMs / 60_000} min (libguestfs-test-tool shows where it stops): ${e.message}`, { cause: e });
      });
      const inspected = (await call(['inspect-os'])).split('\n').filter(Boolean);
      const filesystems = (await call(['list-filesystems']))
        .split('\n')
        .map((l) => l.split(': '))
        .filter(([, t]) => t !== undefined && /^(ext[234]|xfs|btrfs)$/.test(t))
        .map(([d]) => d!);
      for (const device of [...inspected, ...filesystems.filter((d) => !inspected.includes(d))]) {
        await call([options.readOnly ? 'mount-ro' : 'mount', device, '/']);
        const found = (await call(['is-file', '/etc/os-release', 'followsymlinks:true'])).trim() === 'true' ||
          (await call(['is-file', '/usr/lib/os-release', 'followsymlinks:true'])).trim() === 'true';
        if (found) return new GuestfsSession(imagePath, fish, record, options.readOnly, device);
        await call(['umount', '/']);
      }
      throw new NotFoundError(`no filesystem in ${imagePath} holds an operating system (no /etc/os-release)`);
    } catch (e) {
      await fish?.exit();
      await teardownSession(record);
      throw e;
    }
  }

  private call(args: string[], options: { allowFailure?: boolean; timeoutMs?: number; signal?: AbortSignal } = {}): Promise<string> {
    for (const a of args) if (a.includes('\0')) throw new ValidationError('argument', 'contains a NUL byte');
    return this.fish.call(args, options);
  }

  private hostTemp(): string {
    return join(this.record.dir, `tmp-${randomBytes(6).toString('hex')}`);
  }

  /**
   * Some libguestfs calls run ordinary tools on /sysroot + path inside the appliance, where an
   * absolute symlink in the image points at the appliance's own root instead of the guest's.
   * So a path is first made canonical with the daemon's realpath, which resolves inside the
   * guest root (chroot), and only symlink-free paths are handed on. (The appliance is a VM:
   * even a wrong path never reaches the host; this keeps the guest's semantics.)
   */
  private async resolve(path: string, followFinal = true, hops = 0): Promise<string> {
    assertGuestPath(path);
    if (hops > 40) throw new UnsafePathError(path, 'too many levels of symbolic links');
    const name = posix.basename(path);
    if (posix.normalize(path) === '/') return '/';
    if (name === '.' || name === '..') return (await this.realpath(path)) ?? path;
    const parent = (await this.realpath(posix.dirname(path))) ?? posix.dirname(path);
    const joined = posix.join(parent, name);
    if (!followFinal) return joined;
    const st = await this.statWith('lstatns', joined, true);
    if (st?.type !== 'symlink') return joined;
    const real = await this.realpath(joined);
    if (real) return real;
    // A dangling link: follow its target as the guest would (absolute targets from the guest root).
    const target = await this.readlinkRaw(joined);
    return this.resolve(target.startsWith('/') ? target : posix.join(parent, target), true, hops + 1);
  }

  private async realpath(path: string): Promise<string | undefined> {
    try {
      return (await this.call(['realpath', path], { allowFailure: true })).trim() || undefined;
    } catch (e) {
      if (e instanceof GuestfishCommandError) return undefined;
      throw e;
    }
  }

  private async readlinkRaw(path: string): Promise<string> {
    return (await this.call(['readlink', path])).replace(/\n$/, '');
  }

  private async statWith(command: 'statns' | 'lstatns', path: string, resolved = false): Promise<GuestStat | undefined> {
    assertGuestPath(path);
    let out: string;
    try {
      const target = resolved ? path : await this.resolve(path, command === 'statns');
      out = await this.call([command, target], { allowFailure: true });
    } catch (e) {
      if (isMissing(e)) return undefined;
      if (e instanceof GuestfishCommandError && /Too many levels of symbolic links/.test(e.stderr)) throw new UnsafePathError(path, 'too many levels of symbolic links');
      throw e;
    }
    const f = Object.fromEntries(out.split('\n').filter((l) => l.includes(': ')).map((l) => [l.slice(0, l.indexOf(': ')), Number(l.slice(l.indexOf(': ') + 2))]));
    const mode = f.st_mode ?? 0;
    return { type: typeOfMode(mode), mode: mode & 0o7777, uid: f.st_uid ?? 0, gid: f.st_gid ?? 0, size: f.st_size ?? 0, mtimeMs: (f.st_mtime_sec ?? 0) * 1000 };
  }

  stat(path: string): Promise<GuestStat | undefined> {
    return this.statWith('statns', path);
  }

  lstat(path: string): Promise<GuestStat | undefined> {
    return this.statWith('lstatns', path);
  }

  async readFile(path: string): Promise<Buffer> {
    path = await this.resolve(path);
    const st = await this.statWith('lstatns', path, true);
    if (!st) throw new NotFoundError(`no such file in the guest: ${path}`);
    if (st.type !== 'file') throw new UnsafePathError(path, `is a ${st.type}, not a regular file`);
    const tmp = this.hostTemp();
    try {
      await this.call(['download', path, tmp]);
      return await readFile(tmp);
    } finally {
      await rm(tmp, { force: true });
    }
  }

  async writeFile(path: string, data: string | Uint8Array, options: WriteOptions = {}): Promise<void> {
    const tmp = this.hostTemp();
    await writeFile(tmp, data, { mode: 0o600 });
    try {
      await this.uploadAtomically(tmp, path, options);
    } finally {
      await rm(tmp, { force: true });
    }
  }

  private async uploadAtomically(hostFile: string, path: string, options: WriteOptions): Promise<void> {
    path = await this.resolve(path);
    const existing = await this.statWith('lstatns', path, true);
    if (existing?.type === 'directory') throw new ValidationError(path, 'is a directory');
    const parent = await this.statWith('lstatns', posix.dirname(path), true);
    if (parent?.type !== 'directory') throw new NotFoundError(`the folder of ${path} does not exist in the guest`);
    const guestTmp = posix.join(posix.dirname(path), `.${posix.basename(path)}.prescient-${randomBytes(4).toString('hex')}`);
    await this.call(['upload', hostFile, guestTmp]);
    await this.call(['chmod', `0${(options.mode ?? (existing ? existing.mode : 0o644)).toString(8)}`, guestTmp]);
    await this.call(['chown', String(options.uid ?? existing?.uid ?? 0), String(options.gid ?? existing?.gid ?? 0), guestTmp]);
    await this.call(['mv', guestTmp, path]);
  }

  async sha256(path: string): Promise<string> {
    path = await this.resolve(path);
    const st = await this.statWith('lstatns', path, true);
    if (!st) throw new NotFoundError(`no such file in the guest: ${path}`);
    if (st.type !== 'file') throw new UnsafePathError(path, `is a ${st.type}, not a regular file`);
    return (await this.call(['checksum', 'sha256', path])).trim();
  }

  async readlink(path: string): Promise<string> {
    return this.readlinkRaw(await this.resolve(path, false));
  }

  async list(path: string): Promise<GuestDirEntry[]> {
    const out = await this.call(['readdir', await this.resolve(path)]);
    const entries: GuestDirEntry[] = [];
    for (const block of out.split(/\n\[\d+\] = \{|^\[\d+\] = \{/)) {
      const name = /\n\s*name: (.*)\n/.exec(`\n${block}\n`)?.[1];
      const ftyp = /ftyp: (\S)/.exec(block)?.[1];
      if (name === undefined || name === '.' || name === '..') continue;
      entries.push({ name, type: typeByFtyp[ftyp ?? ''] ?? 'device' });
    }
    return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async mkdir(path: string, options: { parents?: boolean; mode?: number } = {}): Promise<void> {
    assertGuestPath(path);
    const mode = `0${(options.mode ?? 0o755).toString(8)}`;
    if (!options.parents) {
      await this.call(['mkdir-mode', await this.resolve(path), mode]);
      return;
    }
    // One component at a time, each resolved in the guest, as the mount backend does.
    const parts = posix.normalize(path).split('/').filter(Boolean);
    for (let i = 1; i <= parts.length; i++) {
      const prefix = `/${parts.slice(0, i).join('/')}`;
      const resolved = await this.resolve(prefix);
      const st = await this.statWith('lstatns', resolved, true);
      if (st?.type === 'directory') continue;
      if (st) throw new ValidationError(path, `${prefix} exists and is not a folder`);
      await this.call(['mkdir-mode', resolved, mode]);
    }
  }

  async symlink(target: string, path: string): Promise<void> {
    await this.call(['ln-sf', target, await this.resolve(path, false)]);
  }

  async chmod(path: string, mode: number): Promise<void> {
    await this.call(['chmod', `0${mode.toString(8)}`, await this.resolve(path)]);
  }

  async chown(path: string, uid: number, gid: number): Promise<void> {
    await this.call(['lchown', String(uid), String(gid), await this.resolve(path)]);
  }

  async remove(path: string, options: { recursive?: boolean } = {}): Promise<void> {
    assertGuestPath(path);
    path = await this.resolve(path, false);
    if (path === '/') throw new UnsafePathError(path, 'refusing to remove the guest root');
    const st = await this.statWith('lstatns', path, true);
    if (!st) return;
    if (st.type === 'directory') await this.call([options.recursive ? 'rm-rf' : 'rmdir', path]);
    else await this.call(['rm', path]);
  }

  async copyIn(hostPath: string, guestPath: string, options: { signal?: AbortSignal } & WriteOptions = {}): Promise<CopyResult> {
    assertGuestPath(guestPath);
    const st = await hostStat(hostPath);
    if (st.isFile()) {
      await this.uploadAtomically(hostPath, guestPath, { mode: options.mode ?? st.mode & 0o7777, uid: options.uid, gid: options.gid });
      return { files: 1, directories: 0, bytes: st.size };
    }
    const counts: CopyResult = { files: 0, directories: 0, bytes: 0 };
    const walk = async (dir: string): Promise<void> => {
      counts.directories++;
      for (const name of await readdir(dir)) {
        const s = await lstat(join(dir, name));
        if (s.isDirectory()) await walk(join(dir, name));
        else if (s.isFile()) {
          counts.files++;
          counts.bytes += s.size;
        }
      }
    };
    await walk(hostPath);
    // tar streams the folder through a host file; never through memory.
    const tarFile = `${this.hostTemp()}.tar`;
    try {
      const owner = options.uid !== undefined ? ['--owner', String(options.uid), '--group', String(options.gid ?? options.uid)] : [];
      await run('tar', ['-C', hostPath, ...owner, '--numeric-owner', '-cf', tarFile, '.'], options.signal ? { signal: options.signal } : {});
      await this.mkdir(guestPath, { parents: true });
      await this.call(['tar-in', tarFile, await this.resolve(guestPath)], options.signal ? { signal: options.signal } : {});
    } finally {
      await rm(tarFile, { force: true });
    }
    return counts;
  }

  async statfs(path: string): Promise<FilesystemUsage> {
    const out = await this.call(['statvfs', await this.resolve(path)]);
    const f = Object.fromEntries(out.split('\n').filter((l) => l.includes(': ')).map((l) => [l.slice(0, l.indexOf(': ')), Number(l.slice(l.indexOf(': ') + 2))]));
    const frsize = f.frsize ?? f.bsize ?? 4096;
    return { sizeBytes: (f.blocks ?? 0) * frsize, usedBytes: ((f.blocks ?? 0) - (f.bfree ?? 0)) * frsize, freeBytes: (f.bavail ?? 0) * frsize };
  }

  async diskLayout(): Promise<DiskLayout & { rootPartition: number }> {
    const device = '/dev/sda';
    const rootPartition = Number(/(\d+)$/.exec(this.rootDevice)?.[1] ?? 0);
    const vfs = async (dev: string): Promise<string | undefined> => (await this.call(['vfs-type', dev]).catch(() => '')).trim() || undefined;
    let table: DiskLayout['table'];
    try {
      const t = (await this.call(['part-get-parttype', device], { allowFailure: true })).trim();
      table = t === 'gpt' ? 'gpt' : 'dos';
    } catch {
      const size = Number((await this.call(['blockdev-getsize64', device])).trim());
      const fs = await vfs(device);
      return { table: 'none', partitions: [{ number: 0, offsetBytes: 0, sizeBytes: size, ...(fs ? { filesystem: fs } : {}) }], rootPartition: 0 };
    }
    const out = await this.call(['part-list', device]);
    const partitions: Partition[] = [];
    for (const block of out.split(/\[\d+\] = \{/).slice(1)) {
      const num = Number(/part_num: (\d+)/.exec(block)?.[1]);
      const p: Partition = { number: num, offsetBytes: Number(/part_start: (\d+)/.exec(block)?.[1]), sizeBytes: Number(/part_size: (\d+)/.exec(block)?.[1]) };
      const fs = await vfs(`${device}${num}`);
      if (fs) p.filesystem = fs;
      partitions.push(p);
    }
    return { table, partitions, rootPartition };
  }

  bindWrites(): undefined {
    return undefined; // the appliance cannot see host folders, so nothing is ever bound
  }

  async exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    if (argv.length === 0) throw new UnsafePathError('', 'an empty command');
    if (!this.readOnly && !this.policyInstalled && !(await this.lstat(policyRcDPath))) {
      await this.writeFile(policyRcDPath, policyRcDScript, { mode: 0o755 });
      this.policyInstalled = true;
    }
    const dir = `/tmp/.prescient-exec-${randomBytes(6).toString('hex')}`;
    const env = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', LANG: 'C.UTF-8', DEBIAN_FRONTEND: 'noninteractive', ...options.env };
    const timeout = options.timeoutMs ? `timeout -s KILL ${Math.ceil(options.timeoutMs / 1000)} ` : '';
    const script = [
      'cd /',
      ...Object.entries(env).map(([k, v]) => {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new ValidationError(`env.${k}`, 'not a valid variable name');
        return `export ${k}=${shellQuote(v)}`;
      }),
      `${timeout}${argv.map(shellQuote).join(' ')} <${dir}/in >${dir}/out 2>${dir}/err`,
      `echo $? >${dir}/rc`,
    ].join('\n');
    const started = performance.now();
    await this.call(['mkdir-mode', dir, '0700']);
    try {
      await this.writeFile(`${dir}/in`, options.input ?? '');
      await this.writeFile(`${dir}/run.sh`, script);
      await this.call(['sh', `/bin/sh ${dir}/run.sh`], options.signal ? { signal: options.signal } : {});
      // One at a time: the guestfish server handles one remote command at once.
      const rc = await this.readFile(`${dir}/rc`);
      const stdout = await this.readFile(`${dir}/out`);
      const stderr = await this.readFile(`${dir}/err`);
      const exitCode = Number(rc.toString().trim());
      const result = { exitCode, stdout: stdout.toString(), stderr: stderr.toString(), durationMs: performance.now() - started };
      if (exitCode !== 0 && !options.allowFailure) throw new ExternalToolError(`guest: ${argv[0]}`, argv, exitCode, result.stderr || result.stdout);
      return result;
    } finally {
      await this.call(['rm-rf', dir]).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      if (this.policyInstalled) await this.remove(policyRcDPath);
      if (!this.readOnly) await this.call(['sync']);
      await this.call(['umount-all']);
    } finally {
      await this.fish.exit();
      await teardownSession(this.record);
    }
  }
}
