import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigFileError } from '../core/errors.js';
import { makePrivateDirSync, writePrivateFileSync } from '../core/private-file.js';

/**
 * The installation's HMAC keys for pseudonyms. Generated once, kept under secrets/ with mode
 * 0600 in a 0700 folder. Rotation puts a new key first; older keys stay (unless dropped) only so
 * that consent granted before a rotation is still found and a revoke still reaches old data.
 */
export interface PseudonymKey {
  id: string;
  createdAt: string;
  key: Buffer;
}

export interface PseudonymKeyring {
  /** Newest first; the first one pseudonymises everything new. */
  keys: readonly PseudonymKey[];
}

const fileSchema = z.object({
  version: z.literal(1),
  keys: z
    .array(z.object({ id: z.string().regex(/^k[0-9]+$/), createdAt: z.string(), key: z.string().regex(/^[A-Za-z0-9_-]{43}$/) }))
    .min(1),
});

export function keyringPath(secretsDir: string): string {
  return join(secretsDir, 'pseudonym-keys.json');
}

/** Loads the keyring, creating it (and the secrets folder) on first use. */
export function loadOrCreateKeyring(secretsDir: string): PseudonymKeyring {
  const file = keyringPath(secretsDir);
  if (!existsSync(file)) {
    const ring: PseudonymKeyring = { keys: [newKey(1)] };
    saveKeyring(secretsDir, ring);
    return ring;
  }
  let parsed: z.infer<typeof fileSchema>;
  try {
    parsed = fileSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
  } catch (e) {
    throw new ConfigFileError(file, file, 'not a valid pseudonym keyring', { cause: String(e) });
  }
  return { keys: parsed.keys.map((k) => ({ id: k.id, createdAt: k.createdAt, key: Buffer.from(k.key, 'base64url') })) };
}

/**
 * A new current key. With `dropOld`, earlier pseudonyms become unlinkable for good. Without a
 * keyring yet, the new key is the first one (k1): making k1 only to put k2 before it would keep
 * a key that never pseudonymised anything.
 */
export function rotateKeyring(secretsDir: string, options: { dropOld?: boolean } = {}): PseudonymKeyring {
  if (!existsSync(keyringPath(secretsDir))) return loadOrCreateKeyring(secretsDir);
  const ring = loadOrCreateKeyring(secretsDir);
  const next = Math.max(...ring.keys.map((k) => Number(k.id.slice(1)))) + 1;
  const rotated: PseudonymKeyring = { keys: [newKey(next), ...(options.dropOld ? [] : ring.keys)] };
  saveKeyring(secretsDir, rotated);
  return rotated;
}

function newKey(n: number): PseudonymKey {
  return { id: `k${n}`, createdAt: new Date().toISOString(), key: randomBytes(32) };
}

function saveKeyring(secretsDir: string, ring: PseudonymKeyring): void {
  makePrivateDirSync(secretsDir);
  const body = { version: 1, keys: ring.keys.map((k) => ({ id: k.id, createdAt: k.createdAt, key: k.key.toString('base64url') })) };
  writePrivateFileSync(keyringPath(secretsDir), `${JSON.stringify(body, null, 2)}\n`);
}
