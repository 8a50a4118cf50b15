import { lstat, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../../core/exec.js';
import { NotFoundError } from '../../../core/errors.js';
import { resolveInGuest } from '../../guest-path.js';
import { recordGuestRootAsMountPoint } from './clean-filesystem.js';
import { readDiskLayout, rootCandidates, type DiskLayout, type Partition } from '../../partitions.js';
import { detectFormat } from '../../qemu-img.js';
import { createSessionRecord, processComm, saveSessionRecord, teardownSession, type SessionRecord } from '../../runtime-state.js';

/**
 * Attaches an image to the host as root:
 *   qemu-storage-daemon exports the image (qcow2 with its backing chain, or raw) as a raw
 *   file over FUSE → the root partition, found by its os-release, is mounted through a loop
 *   device at its offset (nodev, nosuid: device nodes and setuid files in an untrusted image
 *   stay inert on the host).
 * Every step is recorded before it is taken, so a killed process can be cleaned up later.
 */
export interface Attached {
  record: SessionRecord;
  root: string;
  layout: DiskLayout;
  rootPartition: Partition;
}

/**
 * Exports the image as a raw file over FUSE (qemu-storage-daemon), recorded in `record`.
 * Used alone for work on the partition table and offline filesystems, and by attachImage.
 */
export async function exportImage(imagePath: string, record: SessionRecord, options: { readOnly: boolean; signal?: AbortSignal }): Promise<string> {
  const format = await detectFormat(imagePath);
  const fuseFile = join(record.dir, 'disk.raw');
  await writeFile(fuseFile, '');
  record.fuseFile = fuseFile;
  await saveSessionRecord(record);
  const pidFile = join(record.dir, 'qsd.pid');
  const readOnly = options.readOnly;
  await run(
    'qemu-storage-daemon',
    [
      '--daemonize',
      '--pidfile',
      pidFile,
      '--blockdev',
      JSON.stringify({ driver: 'file', 'node-name': 'file0', filename: imagePath, 'read-only': readOnly, discard: 'unmap' }),
      '--blockdev',
      JSON.stringify({ driver: format, 'node-name': 'disk0', file: 'file0', 'read-only': readOnly, discard: 'unmap' }),
      '--export',
      JSON.stringify({ type: 'fuse', id: 'export0', 'node-name': 'disk0', mountpoint: fuseFile, writable: !readOnly }),
    ],
    { signal: options.signal, timeoutMs: 30_000 },
  );
  record.daemonPid = Number((await readFile(pidFile, 'utf8')).trim());
  record.daemonName = await processComm(record.daemonPid);
  await saveSessionRecord(record);
  return fuseFile;
}

export async function attachImage(imagePath: string, options: { runtimeDir: string; readOnly: boolean; signal?: AbortSignal }): Promise<Attached> {
  const record = await createSessionRecord(options.runtimeDir, { backend: 'mount', image: imagePath });
  try {
    const readOnly = options.readOnly;
    const fuseFile = await exportImage(imagePath, record, options);
    const root = join(record.dir, 'root');
    await mkdir(root);
    const size = (await lstat(fuseFile)).size;
    const layout = await readDiskLayout(fuseFile, size);
    const candidates = rootCandidates(layout);
    if (candidates.length === 0) throw new NotFoundError(`no Linux filesystem found in ${imagePath}`, { layout });

    record.mountpoint = root;
    await saveSessionRecord(record);
    for (const part of candidates) {
      const loop = (
        await run('losetup', ['--find', '--show', ...(readOnly ? ['--read-only'] : []), '--offset', String(part.offsetBytes), '--sizelimit', String(part.sizeBytes), fuseFile])
      ).stdout.trim();
      try {
        const mountOptions = ['nodev', 'nosuid', readOnly ? 'ro' : 'rw', ...(part.filesystem === 'xfs' ? ['nouuid'] : [])].join(',');
        await run('mount', ['-t', part.filesystem!, '-o', mountOptions, loop, root], { signal: options.signal, timeoutMs: 60_000 });
      } finally {
        // Detaching now marks the loop device auto-clear: it goes away with the unmount, so
        // there is no loop device left to track, even after a crash.
        await run('losetup', ['-d', loop], { allowFailure: true });
      }
      if (await hasOsRelease(root)) {
        if (!readOnly) await recordGuestRootAsMountPoint(root, part.filesystem);
        return { record, root, layout, rootPartition: part };
      }
      await run('umount', [root]);
    }
    throw new NotFoundError(`no filesystem in ${imagePath} holds an operating system (no /etc/os-release)`, { layout });
  } catch (e) {
    await teardownSession(record);
    throw e;
  }
}

async function hasOsRelease(root: string): Promise<boolean> {
  for (const p of ['/etc/os-release', '/usr/lib/os-release']) {
    const st = await lstat(await resolveInGuest(root, p)).catch(() => undefined);
    if (st?.isFile()) return true;
  }
  return false;
}
