import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { withFileLock } from '../core/file-lock.js';
import { clientIdPattern } from '../identify/rules.js';
import { ValidationError } from '../core/errors.js';
import { loadOrCreateSecret } from './signing-key.js';

/** Who a username/secret pair authenticates as. */
export type Principal = { kind: 'admin' } | { kind: 'client'; clientId: string };

const fileSchema = z.strictObject({
  clients: z.record(z.string(), z.strictObject({ sha256: z.string().regex(/^[0-9a-f]{64}$/), createdAt: z.string() })),
});
type CredentialFile = z.infer<typeof fileSchema>;

/**
 * Client and admin credentials, kept under the secrets folder. Client secrets are stored only as
 * SHA-256 (they are 32 random bytes, so a slow hash buys nothing); the admin secret is generated
 * once into `admin.secret` (0600) so whoever can read the secrets folder is the administrator.
 */
export class Credentials {
  private constructor(
    private readonly secretsDir: string,
    private readonly adminSecret: string,
  ) {}

  static async open(secretsDir: string): Promise<Credentials> {
    const admin = (await loadOrCreateSecret(secretsDir, 'admin.secret')).toString('base64url');
    return new Credentials(secretsDir, admin);
  }

  /** The admin's username is `admin`; its secret is the content of `<secrets>/admin.secret`. */
  get admin(): { username: 'admin'; secret: string } {
    return { username: 'admin', secret: this.adminSecret };
  }

  private get file(): string {
    return join(this.secretsDir, 'clients.json');
  }

  private async read(): Promise<CredentialFile> {
    try {
      return fileSchema.parse(JSON.parse(await readFile(this.file, 'utf8')));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { clients: {} };
      throw e;
    }
  }

  /** Create (or replace) a client's credential; the secret is returned once and never stored in clear. */
  async issue(clientId: string): Promise<{ username: string; secret: string }> {
    if (!clientIdPattern.test(clientId)) throw new ValidationError('clientId', 'lowercase letters, digits and single . _ - between them');
    const secret = randomBytes(32).toString('base64url');
    await withFileLock(`${this.file}.lock`, async () => {
      const data = await this.read();
      data.clients[clientId] = { sha256: sha256(secret), createdAt: new Date().toISOString() };
      const tmp = `${this.file}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify(data, null, 2), { mode: 0o600 });
      await rename(tmp, this.file);
    });
    return { username: clientId, secret };
  }

  /** The principal a username/secret pair stands for, or undefined when it stands for no one. */
  async authenticate(username: string, secret: string): Promise<Principal | undefined> {
    if (username === 'admin') return same(secret, this.adminSecret) ? { kind: 'admin' } : undefined;
    const entry = (await this.read()).clients[username];
    if (!entry) return undefined;
    return same(sha256(secret), entry.sha256) ? { kind: 'client', clientId: username } : undefined;
  }
}

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
