import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makePrivateDir, privateFileMode } from '../core/private-file.js';

/**
 * Read a secret file under the secrets folder, creating it (random bytes, mode 0600) the first
 * time. `wx` makes creation race-safe: of two processes starting at once, one writes and both
 * then read the same bytes.
 */
export async function loadOrCreateSecret(secretsDir: string, name: string, bytes = 32): Promise<Buffer> {
  await makePrivateDir(secretsDir);
  const file = join(secretsDir, name);
  try {
    await writeFile(file, randomBytes(bytes).toString('base64url'), { flag: 'wx', mode: privateFileMode });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  const text = (await readFile(file, 'utf8')).trim();
  return Buffer.from(text, 'base64url');
}

/** The HMAC key that signs grants; generated once per PRESCIENT_HOME. */
export function loadSigningKey(secretsDir: string): Promise<Buffer> {
  return loadOrCreateSecret(secretsDir, 'grant-hmac.key');
}
