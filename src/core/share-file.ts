import { constants } from 'node:fs';
import { copyFile, link } from 'node:fs/promises';

export type ShareMethod = 'link' | 'clone-or-copy';

/**
 * Give an immutable file a second name without a second copy of its bytes: a hard link on the
 * same file system; across file systems a reflink where the file system clones (btrfs, XFS),
 * a plain copy only where neither is possible. `to` must not exist.
 */
export async function shareFile(from: string, to: string): Promise<ShareMethod> {
  try {
    await link(from, to);
    return 'link';
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK') throw e;
  }
  await copyFile(from, to, constants.COPYFILE_FICLONE | constants.COPYFILE_EXCL);
  return 'clone-or-copy';
}
