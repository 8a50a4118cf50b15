import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Read a secret file under the secrets folder, creating it (random bytes, mode 0600) the first
 * time. `wx` makes creation race-safe: of two processes starting at once, one writes and both
 * then read the same bytes.
 */
export async function loadOrCreateSecret(secretsDir: string, name: string, bytes = 32): Promise<Buffer> {
  await mkdir(secretsDir, { recursive: true, mode: 0o700 });
  await chmod(secretsDir, 0o700);
  const file = join(secretsDir, name);
  try {
    await writeFile(file, randomBytes(bytes).toString('base64url'), { flag: 'wx', mode: 0o600 });
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
