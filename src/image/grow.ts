import { lstat } from 'node:fs/promises';
import { run } from '../core/exec.js';
import { UnsupportedError } from '../core/errors.js';
import { exportImage } from './backends/mount/attach.js';
import { assertSafeImageChain, homeLayerDirs } from './image-chain.js';
import { readDiskLayout } from './partitions.js';
import * as qemuImg from './qemu-img.js';
import { createSessionRecord, saveSessionRecord, teardownSession } from './runtime-state.js';

/**
 * Grows an image's virtual disk, its root partition and the ext2/3/4 filesystem in it, offline:
 * qemu-img resize, then (through a FUSE export) sfdisk moves the end of the root partition to
 * the end of the disk, e2fsck checks and resize2fs grows the filesystem. Never shrinks. The root
 * partition must be the last one, as it is in cloud images and in our bases.
 */
export async function growRootFilesystem(
  imagePath: string,
  sizeBytes: number,
  options: { rootPartition: number; runtimeDir: string; signal?: AbortSignal; trustedFiles?: readonly string[] },
): Promise<{ grown: boolean; partitionBytes: number }> {
  await assertSafeImageChain(imagePath, { trustedDirs: homeLayerDirs(options.runtimeDir), trustedFiles: options.trustedFiles ?? [] });
  const before = await qemuImg.info(imagePath);
  if (sizeBytes <= before.virtualSize) return { grown: false, partitionBytes: 0 };
  await qemuImg.resize(imagePath, sizeBytes, options.signal ? { signal: options.signal } : {});
  const record = await createSessionRecord(options.runtimeDir, { backend: 'mount', image: imagePath });
  try {
    const fuseFile = await exportImage(imagePath, record, { readOnly: false, ...(options.signal ? { signal: options.signal } : {}) });
    let layout = await readDiskLayout(fuseFile, (await lstat(fuseFile)).size);
    let part = layout.partitions.find((p) => p.number === options.rootPartition);
    if (!part) throw new UnsupportedError(`partition ${options.rootPartition} not found in ${imagePath}`);
    if (!part.filesystem?.startsWith('ext')) throw new UnsupportedError(`growing ${part.filesystem ?? 'an unknown'} filesystem is not supported (ext2/3/4 only)`);
    if (layout.table !== 'none') {
      if (layout.partitions.some((p) => p.offsetBytes > part!.offsetBytes)) {
        throw new UnsupportedError(`the root partition (${part.number}) is not the last one, so it cannot grow into the new space`);
      }
      if (layout.table === 'gpt') await run('sfdisk', ['--quiet', '--relocate', 'gpt-bak-std', fuseFile]);
      await run('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', '-N', String(part.number), fuseFile], { input: ', +\n' });
      layout = await readDiskLayout(fuseFile, (await lstat(fuseFile)).size);
      part = layout.partitions.find((p) => p.number === options.rootPartition)!;
    }
    const loop = (await run('losetup', ['--find', '--show', '--offset', String(part.offsetBytes), '--sizelimit', String(part.sizeBytes), fuseFile])).stdout.trim();
    record.loopDevice = loop;
    await saveSessionRecord(record);
    // e2fsck exits 1 when it fixed something, which is fine before a resize.
    const fsck = await run('e2fsck', ['-f', '-y', loop], { allowFailure: true, timeoutMs: 10 * 60_000 });
    if (fsck.exitCode !== null && fsck.exitCode > 1) throw new UnsupportedError(`e2fsck found problems it could not fix: ${fsck.stdout}${fsck.stderr}`);
    await run('resize2fs', [loop], { timeoutMs: 30 * 60_000, ...(options.signal ? { signal: options.signal } : {}) });
    return { grown: true, partitionBytes: part.sizeBytes };
  } finally {
    await teardownSession(record);
  }
}
