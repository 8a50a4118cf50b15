import { open } from 'node:fs/promises';
import { AppError } from '../../../core/errors.js';
import { run } from '../../../core/exec.js';
import type { Partition } from '../../partitions.js';

/**
 * A written filesystem is trusted only once it is really unmounted and clean on disk. A mount
 * copied into another mount namespace (any `unshare --mount` on the host while the session was
 * open) keeps the filesystem alive after our `umount`; its real unmount then writes the journal
 * and superblock after the FUSE export is gone, and the image is left needing journal recovery
 * with its last writes lost. So before the export stops: wait until no loop device is backed by
 * it, then read the ext superblock (state clean, no needs_recovery). Anything else fails the
 * session, so no layer is published from it.
 */
export async function checkCleanRelease(input: { fuseFile: string; partition: Partition; imagePath: string; waitMs?: number }): Promise<void> {
  const deadline = performance.now() + (input.waitMs ?? 30_000);
  let holders = '';
  for (;;) {
    holders = (await run('losetup', ['--associated', input.fuseFile, '--noheadings', '--output', 'NAME'], { allowFailure: true })).stdout.trim();
    if (holders === '' || performance.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  if (holders !== '') {
    throw new AppError('EXTERNAL_TOOL', `${input.imagePath}: its filesystem is still mounted in another mount namespace (${holders.split('\n').join(', ')}) after the session closed; the image is not trusted (run the build again)`);
  }
  if (!/^ext[234]$/.test(input.partition.filesystem ?? '')) return;
  const sb = Buffer.alloc(1024);
  const fd = await open(input.fuseFile, 'r');
  try {
    await fd.read(sb, 0, 1024, input.partition.offsetBytes + 1024);
  } finally {
    await fd.close();
  }
  const state = sb.readUInt16LE(0x3a);
  const needsRecovery = (sb.readUInt32LE(0x60) & 0x4) !== 0;
  if ((state & 1) === 0 || (state & 2) !== 0 || needsRecovery) {
    throw new AppError('EXTERNAL_TOOL', `${input.imagePath}: its filesystem was not left clean (${needsRecovery ? 'the journal needs recovery' : 'errors recorded'}); an I/O error reached it while it was written, so the image is not trusted (run the build again)`);
  }
}
