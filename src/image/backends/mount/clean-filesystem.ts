import { open } from 'node:fs/promises';
import { AppError } from '../../../core/errors.js';
import { run } from '../../../core/exec.js';
import type { Partition } from '../../partitions.js';

/**
 * A written filesystem is trusted only when it is clean on disk once unmounted: the ext
 * superblock says valid, no errors, no journal needing recovery. Teardown remounts the root
 * read-only before unmounting (see teardownSession), which completes the journal even when a
 * copy of the mount lives on in another mount namespace; what this catches is an I/O error that
 * reached the filesystem while it was written (the journal is then aborted and the last writes
 * may be lost). The session then fails, so no layer is published from it.
 */
export async function checkCleanFilesystem(input: { fuseFile: string; partition: Partition; imagePath: string }): Promise<void> {
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

/**
 * ext keeps the folder it was last mounted on in its superblock: for a build or a session, a
 * host folder (`…/run/sessions/<id>/root`) that every image made from the layer would carry.
 * A guest sees only "/". `FILE?offset=N` is e2fsprogs' own way to reach a filesystem inside a
 * disk file; run on an unmounted filesystem only.
 */
export async function forgetHostMountPoint(device: string, options: { filesystem: string | undefined; offsetBytes?: number }): Promise<void> {
  if (!/^ext[234]$/.test(options.filesystem ?? '')) return;
  await run('tune2fs', ['-M', '/', options.offsetBytes ? `${device}?offset=${options.offsetBytes}` : device], { timeoutMs: 60_000 });
}
