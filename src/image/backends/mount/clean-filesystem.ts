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
 * ext keeps the folder it was last mounted on in its superblock. The kernel samples it at the
 * first open for writing after a mount and writes it through the journal, so a host folder
 * (`…/run/sessions/<id>/root`, `…/bases/.build-…/mnt`) would be in every image made from the
 * layer: in the superblock and in the journal's copies of it, which `tune2fs -M` afterwards
 * cannot reach. The kernel writes the mount's path as the opener sees it from its own root, so
 * the first such open is made here, right after the mount, by a process chrooted into it: the
 * filesystem records "/", what a guest sees. perl-base is Essential on Debian (a host one is
 * there); the chrooted perl runs no guest code, since it loads nothing after the chroot, and it
 * opens an unnamed file (O_TMPFILE), so no name is left in the guest either.
 */
export async function recordGuestRootAsMountPoint(root: string, filesystem: string | undefined): Promise<void> {
  if (!/^ext[234]$/.test(filesystem ?? '')) return;
  // O_TMPFILE is __O_TMPFILE (020000000) with O_DIRECTORY; Fcntl names only the second.
  const script = 'chroot($ARGV[0]) && chdir("/") or die "chroot: $!\\n"; sysopen(my $f, "/", 020000000 | O_DIRECTORY | O_WRONLY, 0600) or die "open an unnamed file: $!\\n"; close($f)';
  await run('perl', ['-MFcntl', '-e', script, root], { timeoutMs: 30_000 });
}
