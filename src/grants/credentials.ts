import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { FileIdentitySyncCache } from '../core/file-identity.js';
import { withFileLock } from '../core/file-lock.js';
import { writePrivateFile } from '../core/private-file.js';
import { NotFoundError, ValidationError } from '../core/errors.js';
import type { Principal } from '../contracts/access-scope.js';
import { checkClientId, clientIdPattern, clientIdRule } from '../contracts/identifiers.js';
import { subjectKinds } from '../contracts/telemetry-event.js';
import { loadOrCreateSecret } from './signing-key.js';

/** A source's Basic username is `source/<name>`: `/` is in no client id, so the two never collide. */
export const sourceUsernamePrefix = 'source/';
export const sourceNamePattern = clientIdPattern;
/** A telemetry subject as events name it in clear: `client:webshop`, `vm:host-1`, `user:42`. */
export const subjectPattern = new RegExp(`^(?:${subjectKinds.join('|')}):\\S{1,1024}$`);

const entrySchema = z.strictObject({ sha256: z.string().regex(/^[0-9a-f]{64}$/), createdAt: z.string() });
const fileSchema = z.strictObject({
  clients: z.record(z.string(), entrySchema),
  sources: z.record(z.string(), entrySchema.extend({ subjects: z.array(z.string()) })).optional(),
});
type CredentialFile = z.infer<typeof fileSchema>;
type Entry = z.infer<typeof entrySchema>;

/**
 * Client, source and admin credentials, kept under the secrets folder. Secrets are stored only as
 * SHA-256 (they are 32 random bytes, so a slow hash buys nothing); the admin secret is generated
 * once into `admin.secret` (0600) so whoever can read the secrets folder is the administrator.
 * The file is re-read when it changes, so `prescient credentials issue|revoke` takes effect on a
 * running `serve` at its next request (and ends the live tokens of the old credential).
 */
export class Credentials {
  private readonly cache = new FileIdentitySyncCache<CredentialFile>(1);

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

  /**
   * The file as it is now: a stat per call, a read only when its identity changed, and on every
   * call while it is younger than a timestamp tick (FileIdentitySyncCache's racy rule). So a
   * re-issue (whose entry has the very same size) or a revoke by another process is seen at the
   * next call, never a stale generation, even where the file system stamps times to the second.
   */
  private read(): CredentialFile {
    return this.cache.get(this.file, () => {
      let text: string;
      try {
        text = readFileSync(this.file, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { clients: {} };
        throw e;
      }
      return fileSchema.parse(JSON.parse(text));
    });
  }

  private async update(change: (data: CredentialFile) => void): Promise<void> {
    await withFileLock(`${this.file}.lock`, async () => {
      this.cache.forget(this.file);
      const data = structuredClone(this.read());
      change(data);
      await writePrivateFile(this.file, JSON.stringify(data, null, 2));
      this.cache.forget(this.file);
    });
  }

  /** Create (or replace) a client's credential; the secret is returned once and never stored in clear. */
  async issue(clientId: string): Promise<{ username: string; secret: string }> {
    checkClientId(clientId);
    const secret = randomBytes(32).toString('base64url');
    await this.update((data) => {
      data.clients[clientId] = { sha256: sha256(secret), createdAt: new Date().toISOString() };
    });
    return { username: clientId, secret };
  }

  /**
   * Create (or replace) a source credential that may write telemetry about `subjects` only
   * (`client:webshop`, `vm:host-1`) and do nothing else.
   */
  async issueSource(name: string, subjects: readonly string[]): Promise<{ username: string; secret: string; subjects: string[] }> {
    const unique = checkedSource(name, subjects);
    const secret = randomBytes(32).toString('base64url');
    await this.update((data) => {
      data.sources = { ...data.sources, [name]: { sha256: sha256(secret), createdAt: new Date().toISOString(), subjects: unique } };
    });
    return { username: `${sourceUsernamePrefix}${name}`, secret, subjects: unique };
  }

  /**
   * The source credential `name` for `subjects`, the same one every time it is asked for while it
   * exists: its secret is `secretOf(createdAt)` (derived by the caller from a key of its own, so
   * it can be handed out again without being kept in clear). Made when missing, when its subjects
   * changed, or when it was not made this way; checked and made under the file's lock, so two
   * requests at once get the same one.
   */
  async ensureSource(name: string, subjects: readonly string[], secretOf: (createdAt: string) => string): Promise<{ username: string; secret: string; subjects: string[]; createdAt: string }> {
    const unique = checkedSource(name, subjects);
    const kept = (data: CredentialFile): { secret: string; createdAt: string } | undefined => {
      const current = data.sources && Object.hasOwn(data.sources, name) ? data.sources[name] : undefined;
      if (!current || current.subjects.join('\n') !== unique.join('\n')) return undefined;
      const secret = secretOf(current.createdAt);
      return same(sha256(secret), current.sha256) ? { secret, createdAt: current.createdAt } : undefined;
    };
    // Every request asks: the common answer (it exists) needs no lock and no write.
    let result = kept(this.read());
    if (result) return { username: `${sourceUsernamePrefix}${name}`, secret: result.secret, subjects: unique, createdAt: result.createdAt };
    await this.update((data) => {
      result = kept(data);
      if (result) return;
      const createdAt = new Date().toISOString();
      const secret = secretOf(createdAt);
      data.sources = { ...data.sources, [name]: { sha256: sha256(secret), createdAt, subjects: unique } };
      result = { secret, createdAt };
    });
    return { username: `${sourceUsernamePrefix}${name}`, secret: result!.secret, subjects: unique, createdAt: result!.createdAt };
  }

  /** Remove a client's credential (`source/<name>` for a source's): its secret and its live tokens stop working. */
  async revoke(username: string): Promise<void> {
    let found = false;
    await this.update((data) => {
      if (username.startsWith(sourceUsernamePrefix)) {
        const name = username.slice(sourceUsernamePrefix.length);
        found = !!data.sources && Object.hasOwn(data.sources, name);
        if (found) delete data.sources![name];
      } else {
        found = Object.hasOwn(data.clients, username);
        if (found) delete data.clients[username];
      }
    });
    if (!found) throw new NotFoundError(`no credential ${JSON.stringify(username)}`, { field: 'username' });
  }

  /** Who holds a credential, without secrets. */
  list(): { clients: { username: string; createdAt: string }[]; sources: { username: string; createdAt: string; subjects: string[] }[] } {
    const data = this.read();
    return {
      clients: Object.entries(data.clients).map(([username, e]) => ({ username, createdAt: e.createdAt })),
      sources: Object.entries(data.sources ?? {}).map(([name, e]) => ({ username: `${sourceUsernamePrefix}${name}`, createdAt: e.createdAt, subjects: e.subjects })),
    };
  }

  /**
   * The principal a username/secret pair stands for, or undefined when it stands for no one.
   * Any string may arrive here (`__proto__`, `constructor`): only own entries are looked up.
   */
  authenticate(username: string, secret: string): Principal | undefined {
    if (username === 'admin') return same(secret, this.adminSecret) ? { kind: 'admin' } : undefined;
    const data = this.read();
    if (username.startsWith(sourceUsernamePrefix)) {
      const name = username.slice(sourceUsernamePrefix.length);
      const entry = sourceNamePattern.test(name) && data.sources && Object.hasOwn(data.sources, name) ? data.sources[name] : undefined;
      return entry && same(sha256(secret), entry.sha256) ? { kind: 'source', name, subjects: entry.subjects } : undefined;
    }
    const entry = clientIdPattern.test(username) && Object.hasOwn(data.clients, username) ? data.clients[username] : undefined;
    return entry && same(sha256(secret), entry.sha256) ? { kind: 'client', clientId: username } : undefined;
  }

  /**
   * What a token remembers of the credential behind it: re-issuing or revoking the credential
   * changes it, which ends every live token of the old one. `none` for a client that has no
   * credential (its grants were requested by the admin).
   */
  generationOf(subject: { kind: 'admin' } | { kind: 'client'; clientId: string }): string {
    if (subject.kind === 'admin') return generation({ sha256: sha256(this.adminSecret), createdAt: '' });
    const data = this.read();
    return Object.hasOwn(data.clients, subject.clientId) ? generation(data.clients[subject.clientId]!) : 'none';
  }
}

/** A source credential's name and subjects, checked (each problem named by its field): its subjects once each, sorted. */
function checkedSource(name: string, subjects: readonly string[]): string[] {
  if (!sourceNamePattern.test(name)) throw new ValidationError('name', clientIdRule);
  if (subjects.length === 0) throw new ValidationError('subjects', 'a source credential needs at least one subject');
  for (const [i, s] of subjects.entries()) {
    if (!subjectPattern.test(s)) throw new ValidationError(`subjects[${i}]`, `${JSON.stringify(s)} is not KIND:ID with KIND one of ${subjectKinds.join(', ')}`);
  }
  return [...new Set(subjects)].sort();
}

function generation(e: Entry): string {
  return createHash('sha256').update(`${e.sha256}\n${e.createdAt}`).digest('base64url').slice(0, 16);
}

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
