import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasCommand, run } from '../../src/core/exec.js';

/** Why a test of a file system stamped to the second is skipped here (false when it can run). */
export const secondStampFsSkip: string | false =
  process.getuid?.() === 0 && (await hasCommand('mkfs.ext4')) && (await hasCommand('mount')) ? false : 'needs root, mkfs.ext4 and mount (a loop-mounted file system with one-second stamps)';

/**
 * Runs `body` in the root folder of a fresh loop-mounted ext4 whose 128-byte inodes have no room
 * for nanoseconds, so that every time is stamped to the second: git's "racy" case, where two
 * same-size rewrites within one second can leave a file with one identity. Unmounted and removed after.
 */
export async function withSecondStampFs<T>(body: (mnt: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'prescient-racy-'));
  const img = join(dir, 'fs.img');
  const mnt = join(dir, 'mnt');
  try {
    await run('mkfs.ext4', ['-q', '-F', '-I', '128', img, '8M']);
    await mkdir(mnt);
    await run('mount', ['-o', 'loop', img, mnt]);
    try {
      return await body(mnt);
    } finally {
      await run('umount', [mnt]);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
