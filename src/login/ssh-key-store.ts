import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { NotFoundError, ValidationError } from '../core/errors.js';
import { firstIssueError } from '../core/field-issues.js';
import { makePrivateDir, writePrivateFile } from '../core/private-file.js';
import { clientIdSchema } from '../contracts/identifiers.js';
import { loginNamePattern, seedLoginSchema, sshPublicKeyPattern, type SeedLogin } from '../pipeline/spec/cloud-init.js';

/**
 * The SSH public keys each client logs in to its machines with, and its user name there. The
 * seed of every image made for the client carries them. Comments are dropped on the way in
 * (they are usually user@host: personal data we do not need); type and key are what ssh uses.
 */
export const defaultLoginUser = 'user';

const recordSchema = z.strictObject({
  user: z.string().regex(loginNamePattern),
  keys: z.array(z.strictObject({ key: z.string().regex(sshPublicKeyPattern), fingerprint: z.string(), addedAt: z.string() })),
});
export type ClientLogin = z.infer<typeof recordSchema>;

/** `SHA256:…` as ssh-keygen -l prints it. */
export function sshKeyFingerprint(key: string): string {
  const blob = Buffer.from(key.split(' ')[1] ?? '', 'base64');
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** One OpenSSH public key line (type, base64, optional comment) → type and key only, checked. */
export function parsePublicKey(text: string, field: string): string {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  if (lines.length === 0) throw new ValidationError(field, 'no public key in it');
  const out: string[] = [];
  for (const line of lines) {
    if (/PRIVATE KEY/.test(line)) throw new ValidationError(field, 'this is a private key: give the .pub file');
    const [type, b64] = line.split(/\s+/);
    const key = `${type} ${b64}`;
    if (!sshPublicKeyPattern.test(key)) throw new ValidationError(field, 'not an OpenSSH public key (expected e.g. "ssh-ed25519 AAAA… comment")');
    // The blob starts with its own type name: a truncated or mistyped key fails here, not at login.
    const blob = Buffer.from(b64!, 'base64');
    const n = blob.length >= 4 ? blob.readUInt32BE(0) : -1;
    if (n <= 0 || n > 64 || blob.subarray(4, 4 + n).toString('latin1') !== type) throw new ValidationError(field, 'the key data does not decode to a key of its type');
    out.push(key);
  }
  if (out.length !== 1) throw new ValidationError(field, `one key per file (found ${out.length})`);
  return out[0]!;
}

export class SshKeyStore {
  constructor(private readonly dir: string) {}

  private file(clientId: string): string {
    const parsed = clientIdSchema.safeParse(clientId);
    if (!parsed.success) throw firstIssueError(parsed.error, { root: 'client' });
    return join(this.dir, `${parsed.data}.json`);
  }

  async get(clientId: string): Promise<ClientLogin | undefined> {
    const text = await readFile(this.file(clientId), 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    });
    return text === undefined ? undefined : recordSchema.parse(JSON.parse(text));
  }

  /** The seed's login for this client, or undefined when it registered no key. */
  async login(clientId: string): Promise<SeedLogin | undefined> {
    const r = await this.get(clientId);
    return r && r.keys.length ? seedLoginSchema.parse({ user: r.user, sshAuthorizedKeys: r.keys.map((k) => k.key) }) : undefined;
  }

  async add(clientId: string, publicKey: string, options: { user?: string } = {}): Promise<ClientLogin> {
    const key = parsePublicKey(publicKey, 'key');
    const current = (await this.get(clientId)) ?? { user: defaultLoginUser, keys: [] };
    const user = options.user ?? current.user;
    seedLoginSchema.shape.user.safeParse(user).success || (() => { throw new ValidationError('user', 'lower-case letters, digits, _ and -, starting with a letter or _, and not a system account'); })();
    const keys = current.keys.some((k) => k.key === key) ? current.keys : [...current.keys, { key, fingerprint: sshKeyFingerprint(key), addedAt: new Date().toISOString() }];
    if (keys.length > 64) throw new ValidationError('key', 'at most 64 keys per client');
    return this.save(clientId, { user, keys });
  }

  async remove(clientId: string, fingerprint: string): Promise<ClientLogin> {
    const current = await this.get(clientId);
    if (!current?.keys.some((k) => k.fingerprint === fingerprint)) throw new NotFoundError(`client ${clientId} has no key ${fingerprint}`);
    return this.save(clientId, { ...current, keys: current.keys.filter((k) => k.fingerprint !== fingerprint) });
  }

  private async save(clientId: string, record: ClientLogin): Promise<ClientLogin> {
    // A client's login name and keys say who may reach its machines: nobody else's to read.
    await makePrivateDir(this.dir);
    await writePrivateFile(this.file(clientId), `${JSON.stringify(record, null, 2)}\n`);
    return record;
  }
}

/** The store under a Prescient home. */
export function sshKeyStoreAt(home: string): SshKeyStore {
  return new SshKeyStore(join(home, 'ssh-keys'));
}
