import { createHash, randomBytes } from 'node:crypto';
import { constants, createReadStream, createWriteStream, type Stats } from 'node:fs';
import { chmod, chown, lchown, lstat, mkdir, open, readdir, readlink, rename, rm, rmdir, stat as hostStat, symlink, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { NotFoundError, UnsafePathError, ValidationError } from '../../../core/errors.js';
import { resolveInGuest } from '../../guest-path.js';
import type { CopyResult, GuestDirEntry, GuestFileType, GuestStat, WriteOptions } from '../../session.js';

function fileType(st: Stats): GuestFileType {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'directory';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  return 'device';
}

function toGuestStat(st: Stats): GuestStat {
  return { type: fileType(st), mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, size: st.size, mtimeMs: st.mtimeMs };
}

async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  return lstat(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw e;
  });
}

/**
 * File operations on a mounted guest root, done from the host. Every guest path goes through
 * resolveInGuest, so the host path used contains no symlink and lies inside the root; files
 * are opened with O_NOFOLLOW and only after checking they are regular files, so a device node
 * or fifo in the image is never opened.
 */
export class GuestFiles {
  constructor(readonly root: string) {}

  resolve(path: string, followFinal = true): Promise<string> {
    return resolveInGuest(this.root, path, { followFinal });
  }

  async readFile(path: string): Promise<Buffer> {
    const fh = await this.openRegularFile(path);
    try {
      return await fh.readFile();
    } finally {
      await fh.close();
    }
  }

  /**
   * The one way a guest file is opened for reading: a regular file by its lstat, opened without
   * following a link and without blocking (a fifo swapped in would hang the read), then checked
   * again on the open descriptor, since the path may have been swapped between the two.
   */
  private async openRegularFile(path: string): Promise<FileHandle> {
    const host = await this.resolve(path);
    const st = await lstatOrUndefined(host);
    if (!st) throw new NotFoundError(`no such file in the guest: ${path}`);
    if (!st.isFile()) throw new UnsafePathError(path, `is a ${fileType(st)}, not a regular file`);
    const fh = await open(host, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    let regular = false;
    try {
      regular = (await fh.stat()).isFile();
    } finally {
      if (!regular) await fh.close();
    }
    if (!regular) throw new UnsafePathError(path, 'is not a regular file');
    return fh;
  }

  /** Writes through a fresh temporary file (O_EXCL, so never through a link) renamed into place. */
  async writeFile(path: string, data: string | Uint8Array, options: WriteOptions = {}): Promise<void> {
    await this.writeVia(path, options, async (tmp) => {
      const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      try {
        await fh.writeFile(data);
      } finally {
        await fh.close();
      }
    });
  }

  private async writeVia(path: string, options: WriteOptions, fill: (tmp: string) => Promise<void>): Promise<void> {
    const host = await this.resolve(path);
    const parent = await lstatOrUndefined(dirname(host));
    if (!parent?.isDirectory()) throw new NotFoundError(`the folder of ${path} does not exist in the guest`);
    const existing = await lstatOrUndefined(host);
    if (existing?.isDirectory()) throw new ValidationError(path, 'is a directory');
    const tmp = join(dirname(host), `.${basename(host)}.prescient-${randomBytes(4).toString('hex')}`);
    try {
      await fill(tmp);
      await chmod(tmp, options.mode ?? (existing ? existing.mode & 0o7777 : 0o644));
      await chown(tmp, options.uid ?? existing?.uid ?? 0, options.gid ?? existing?.gid ?? 0);
      await rename(tmp, host);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  async sha256(path: string): Promise<string> {
    const fh = await this.openRegularFile(path);
    const hash = createHash('sha256');
    try {
      for await (const chunk of fh.createReadStream({ highWaterMark: 1 << 20, autoClose: false })) hash.update(chunk as Buffer);
    } finally {
      await fh.close();
    }
    return hash.digest('hex');
  }

  async stat(path: string): Promise<GuestStat | undefined> {
    const st = await lstatOrUndefined(await this.resolve(path));
    return st && toGuestStat(st);
  }

  async lstat(path: string): Promise<GuestStat | undefined> {
    const st = await lstatOrUndefined(await this.resolve(path, false));
    return st && toGuestStat(st);
  }

  async readlink(path: string): Promise<string> {
    return readlink(await this.resolve(path, false));
  }

  async list(path: string): Promise<GuestDirEntry[]> {
    const host = await this.resolve(path);
    const entries = await readdir(host, { withFileTypes: true }).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') throw new NotFoundError(`no such folder in the guest: ${path}`);
      throw e;
    });
    return entries
      .map((d) => ({
        name: d.name,
        type: (d.isFile() ? 'file' : d.isDirectory() ? 'directory' : d.isSymbolicLink() ? 'symlink' : d.isFIFO() ? 'fifo' : d.isSocket() ? 'socket' : 'device') as GuestFileType,
      }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async mkdir(path: string, options: { parents?: boolean; mode?: number } = {}): Promise<void> {
    if (options.parents) {
      // One component at a time, each resolved in the guest: a link met on the way is
      // followed inside the guest, never on the host.
      const parts = posix.normalize(path).split('/').filter(Boolean);
      for (let i = 1; i <= parts.length; i++) {
        const host = await this.resolve(`/${parts.slice(0, i).join('/')}`);
        const st = await lstatOrUndefined(host);
        if (st?.isDirectory()) continue;
        if (st) throw new ValidationError(path, `/${parts.slice(0, i).join('/')} exists and is not a folder`);
        await mkdir(host, { mode: options.mode ?? 0o755 });
      }
      return;
    }
    await mkdir(await this.resolve(path), { mode: options.mode ?? 0o755 });
  }

  async symlink(target: string, path: string): Promise<void> {
    const host = await this.resolve(path, false);
    if (await lstatOrUndefined(host)) await unlink(host);
    await symlink(target, host);
  }

  async chmod(path: string, mode: number): Promise<void> {
    await chmod(await this.resolve(path), mode);
  }

  async chown(path: string, uid: number, gid: number): Promise<void> {
    await lchown(await this.resolve(path), uid, gid);
  }

  async remove(path: string, options: { recursive?: boolean } = {}): Promise<void> {
    const host = await this.resolve(path, false);
    if (host === this.root) throw new UnsafePathError(path, 'refusing to remove the guest root');
    const st = await lstatOrUndefined(host);
    if (st?.isDirectory() && !options.recursive) await rmdir(host);
    else await rm(host, { recursive: options.recursive ?? false, force: true });
  }

  /** Streams a host file or folder into the guest; each destination is resolved in the guest. */
  async copyIn(hostPath: string, guestPath: string, options: { signal?: AbortSignal } & WriteOptions = {}): Promise<CopyResult> {
    const result: CopyResult = { files: 0, directories: 0, bytes: 0 };
    const copy = async (src: string, dest: string, top: boolean): Promise<void> => {
      options.signal?.throwIfAborted();
      const st = top ? await hostStat(src) : await lstat(src);
      if (st.isDirectory()) {
        const existing = await this.stat(dest);
        if (!existing) await this.mkdir(dest, { mode: options.mode ?? st.mode & 0o7777 });
        else if (existing.type !== 'directory') throw new ValidationError(dest, 'exists and is not a folder');
        if (options.uid !== undefined || options.gid !== undefined) await this.chown(dest, options.uid ?? 0, options.gid ?? 0);
        result.directories++;
        for (const name of (await readdir(src)).sort()) await copy(join(src, name), posix.join(dest, name), false);
      } else if (st.isSymbolicLink()) {
        await this.symlink(await readlink(src), dest);
      } else if (st.isFile()) {
        await this.writeVia(dest, { mode: options.mode ?? st.mode & 0o7777, uid: options.uid, gid: options.gid }, async (tmp) => {
          await pipeline(createReadStream(src, { signal: options.signal }), createWriteStream(tmp, { flags: 'wx', mode: 0o600 }), {
            signal: options.signal,
          });
        });
        result.files++;
        result.bytes += st.size;
      }
      // Device nodes, fifos and sockets on the host side are skipped, never opened.
    };
    await copy(hostPath, guestPath, true);
    return result;
  }
}
