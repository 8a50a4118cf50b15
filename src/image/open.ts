import { access, constants } from 'node:fs/promises';
import { paths } from '../core/config.js';
import { hasCommand } from '../core/exec.js';
import { NotFoundError, UnsupportedError } from '../core/errors.js';
import { GuestfsSession } from './backends/guestfs/guestfs-session.js';
import { MountSession } from './backends/mount/mount-session.js';
import { assertSafeImageChain, homeLayerDirs } from './image-chain.js';
import { cleanupStaleSessions } from './runtime-state.js';
import type { BackendName, ImageSession, OpenOptions } from './session.js';

export interface OpenImageOptions extends OpenOptions {
  /** Where live sessions record what they attached; defaults to the configured runtime folder. */
  runtimeDir?: string;
  /**
   * Backing files the caller made itself (the layer chain it is building), accepted wherever
   * they are; every other backing file must be in the home's layer chain (see image-chain.ts).
   */
  trustedFiles?: readonly string[];
}

let mountUsable: Promise<boolean> | undefined;

/** `mount` needs root, FUSE, loop devices and qemu-storage-daemon. */
export function isMountBackendUsable(): Promise<boolean> {
  mountUsable ??= (async () => {
    if (process.getuid?.() !== 0) return false;
    try {
      await access('/dev/fuse', constants.R_OK | constants.W_OK);
      await access('/dev/loop-control', constants.R_OK | constants.W_OK);
    } catch {
      return false;
    }
    return (await hasCommand('qemu-storage-daemon')) && (await hasCommand('losetup'));
  })();
  return mountUsable;
}

export async function chooseBackend(requested: BackendName | 'auto' = 'auto'): Promise<BackendName> {
  if (requested === 'mount' && !(await isMountBackendUsable())) {
    throw new UnsupportedError('the mount backend needs root, /dev/fuse, loop devices and qemu-storage-daemon; use --backend guestfs');
  }
  if (requested !== 'auto') return requested;
  return (await isMountBackendUsable()) ? 'mount' : 'guestfs';
}

const cleanedRuntimeDirs = new Set<string>();

/**
 * Opens an image (qcow2 or raw, or an overlay whose backing chain ends in one). The first open
 * in a process tears down whatever a killed earlier process left attached.
 */
export async function openImage(imagePath: string, options: OpenImageOptions = {}): Promise<ImageSession> {
  await access(imagePath, constants.R_OK).catch(() => {
    throw new NotFoundError(`no image at ${imagePath}`);
  });
  const runtimeDir = options.runtimeDir ?? paths().runtime;
  if (!cleanedRuntimeDirs.has(runtimeDir)) {
    cleanedRuntimeDirs.add(runtimeDir);
    await cleanupStaleSessions(runtimeDir);
  }
  // Before anything opens the file: its header must not lead QEMU to a host file.
  await assertSafeImageChain(imagePath, { trustedDirs: homeLayerDirs(runtimeDir), trustedFiles: options.trustedFiles ?? [] });
  const backend = await chooseBackend(options.backend);
  const common = { runtimeDir, readOnly: options.readOnly ?? false, ...(options.signal ? { signal: options.signal } : {}) };
  return backend === 'mount' ? MountSession.open(imagePath, common) : GuestfsSession.open(imagePath, common);
}

/** Opens, runs `work`, and always closes — also when `work` throws or the signal aborts. */
export async function withImageSession<T>(imagePath: string, options: OpenImageOptions, work: (session: ImageSession) => Promise<T>): Promise<T> {
  const session = await openImage(imagePath, options);
  try {
    return await work(session);
  } finally {
    await session.close();
  }
}
