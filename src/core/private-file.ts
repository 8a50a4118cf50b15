import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * State only the user running Prescient may read: secrets, credentials, client logins, models,
 * telemetry, request history, the policy. Files are 0600 and their folders 0700 whatever the
 * umask (mkdir's mode is masked by it, so the folder is chmodded after). What libvirt's QEMU must
 * read (bases, layers, registry blobs, a flattened disk) is not private and is not written here.
 */
export const privateFileMode = 0o600;
export const privateDirMode = 0o700;

/** The folder alone is private: folders made above it (the home) keep the umask's mode. */
export async function makePrivateDir(dir: string): Promise<void> {
  await mkdir(dirname(dir), { recursive: true });
  await mkdir(dir, { recursive: true, mode: privateDirMode });
  await chmod(dir, privateDirMode);
}

export function makePrivateDirSync(dir: string): void {
  mkdirSync(dirname(dir), { recursive: true });
  mkdirSync(dir, { recursive: true, mode: privateDirMode });
  chmodSync(dir, privateDirMode);
}

/**
 * Written whole under a temporary name (0600 from its first byte) and renamed into place, so a
 * reader sees the old content or the new, never half of it. The folder keeps its mode (the
 * home itself stays searchable for libvirt): a private folder is made with makePrivateDir.
 */
export async function writePrivateFile(file: string, content: string | Uint8Array): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, content, { mode: privateFileMode, flag: 'wx' });
    await rename(tmp, file);
  } finally {
    await rm(tmp, { force: true });
  }
}

export function writePrivateFileSync(file: string, content: string | Uint8Array): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    writeFileSync(tmp, content, { mode: privateFileMode, flag: 'wx' });
    renameSync(tmp, file);
  } finally {
    rmSync(tmp, { force: true });
  }
}
