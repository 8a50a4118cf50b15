import { lstat, readlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { UnsafePathError } from '../core/errors.js';

/** Linux gives up after 40 links; so do we, which also stops symlink loops. */
const maxSymlinkHops = 40;

/**
 * Maps a guest path to a host path inside `root`, following symlinks as the guest would see
 * them: an absolute link target starts again at the guest root, and `..` never climbs above
 * it (as in a chroot). The result contains no symlink, so a write to it cannot leave the
 * image, whatever the image's links say (`/etc -> /`, `../../..`, chains, loops).
 *
 * Components that do not exist yet are kept as they are, so the result can be created.
 * With `followFinal: false` a symlink in the last component is returned itself (for lstat,
 * unlink, or creating a link).
 */
export async function resolveInGuest(root: string, guestPath: string, options: { followFinal?: boolean } = {}): Promise<string> {
  const followFinal = options.followFinal ?? true;
  assertGuestPath(guestPath);
  const pending = guestPath.split('/').filter((p) => p !== '');
  const resolved: string[] = [];
  let hops = 0;
  let missing = false; // once a component is missing, nothing below it can be a link
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const isLast = pending.length === 0;
    const candidate = join(root, ...resolved, part);
    if (!missing) {
      const st = await lstat(candidate).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return undefined;
        if (e.code === 'ENOTDIR') throw new UnsafePathError(guestPath, `${posix.join('/', ...resolved)} is not a directory`);
        throw e;
      });
      if (st === undefined) missing = true;
      else if (st.isSymbolicLink() && (!isLast || followFinal)) {
        if (++hops > maxSymlinkHops) throw new UnsafePathError(guestPath, 'too many levels of symbolic links');
        const target = await readlink(candidate);
        if (target.startsWith('/')) resolved.length = 0;
        pending.unshift(...target.split('/').filter((p) => p !== ''));
        continue;
      } else if (!isLast && !st.isDirectory()) {
        throw new UnsafePathError(guestPath, `${posix.join('/', ...resolved, part)} is not a directory`);
      }
    }
    resolved.push(part);
  }
  return join(root, ...resolved);
}

/** Guest paths are absolute POSIX paths without NUL bytes. */
export function assertGuestPath(guestPath: string): void {
  if (typeof guestPath !== 'string' || !guestPath.startsWith('/')) throw new UnsafePathError(String(guestPath), 'guest paths must be absolute');
  if (guestPath.includes('\0')) throw new UnsafePathError(guestPath, 'contains a NUL byte');
}
