import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, X509Certificate, type KeyObject } from 'node:crypto';
import { link, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError, ValidationError } from '../core/errors.js';
import { run } from '../core/exec.js';
import { makePrivateDir, privateFileMode } from '../core/private-file.js';

/** The file under the secrets folder holding the token signing key and its certificate (PEM, 0600). */
export const tokenSignerFile = 'registry-token.pem';

/**
 * The key that signs registry tokens as JWTs (ES256) and its self-signed X.509 certificate. The
 * certificate is what an external registry trusts (docker-registry's `auth.token.rootcertbundle`);
 * every token carries it in its `x5c` header, which is how docker/distribution finds the key.
 * Node can sign but not write certificates, so openssl makes the certificate, once per home.
 */
export class TokenSigner {
  private constructor(
    private readonly privateKey: KeyObject,
    private readonly publicKey: KeyObject,
    /** The certificate, PEM. */
    readonly certificatePem: string,
    /** The certificate, DER in base64: the `x5c` header's one entry. */
    readonly certificateBase64: string,
  ) {}

  /** Load the signer of this home, creating key and certificate the first time (race-safe: the first `link` wins). */
  static async open(secretsDir: string, signal?: AbortSignal): Promise<TokenSigner> {
    const file = join(secretsDir, tokenSignerFile);
    let text = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    });
    if (text === undefined) {
      await createSignerFile(secretsDir, file, signal);
      text = await readFile(file, 'utf8');
    }
    return TokenSigner.fromPem(text, file);
  }

  static fromPem(text: string, where = tokenSignerFile): TokenSigner {
    const keyPem = /-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----/.exec(text)?.[0];
    const certPem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(text)?.[0];
    if (!keyPem || !certPem) throw new ValidationError(where, 'expected a PRIVATE KEY and a CERTIFICATE (PEM); remove the file to generate a new pair');
    const privateKey = createPrivateKey(keyPem);
    const cert = new X509Certificate(certPem);
    if (!cert.checkPrivateKey(privateKey)) throw new ValidationError(where, "the certificate is not the key's; remove the file to generate a new pair");
    return new TokenSigner(privateKey, createPublicKey(privateKey), `${certPem}\n`, cert.raw.toString('base64'));
  }

  /** A compact JWS (ES256) of `claims`, with the certificate in `x5c`. */
  signJwt(claims: Record<string, unknown>): string {
    const header = { typ: 'JWT', alg: 'ES256', x5c: [this.certificateBase64] };
    const input = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(claims))}`;
    const signature = sign('sha256', Buffer.from(input), { key: this.privateKey, dsaEncoding: 'ieee-p1363' });
    return `${input}.${signature.toString('base64url')}`;
  }

  /**
   * The payload of a JWT this signer signed; UNAUTHORIZED otherwise. The token's own `x5c` is
   * never trusted (anyone can put a certificate there): only this signer's key verifies.
   */
  verifyJwt(token: string): unknown {
    const parts = token.split('.');
    if (parts.length !== 3) throw new AppError('UNAUTHORIZED', 'malformed token');
    const [h, p, s] = parts as [string, string, string];
    let header: unknown;
    try {
      header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
    } catch {
      throw new AppError('UNAUTHORIZED', 'malformed token header');
    }
    if (typeof header !== 'object' || header === null || (header as { alg?: unknown }).alg !== 'ES256') throw new AppError('UNAUTHORIZED', 'token algorithm must be ES256');
    const ok = verify('sha256', Buffer.from(`${h}.${p}`), { key: this.publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'));
    if (!ok) throw new AppError('UNAUTHORIZED', 'token signature is invalid');
    try {
      return JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as unknown;
    } catch {
      throw new AppError('UNAUTHORIZED', 'malformed token claims');
    }
  }
}

const b64 = (text: string): string => Buffer.from(text).toString('base64url');

async function createSignerFile(secretsDir: string, file: string, signal?: AbortSignal): Promise<void> {
  await makePrivateDir(secretsDir);
  const work = await mkdtemp(join(secretsDir, '.signer-'));
  try {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await writeFile(join(work, 'key.pem'), keyPem, { mode: privateFileMode });
    // 10 years: rotating means removing the file (every live token then stops working) and handing the registry the new certificate
    await run('openssl', ['req', '-new', '-x509', '-key', join(work, 'key.pem'), '-out', join(work, 'cert.pem'), '-days', '3650', '-subj', '/CN=Prescient registry token signer', '-batch'], { timeoutMs: 60_000, ...(signal ? { signal } : {}) });
    const certPem = await readFile(join(work, 'cert.pem'), 'utf8');
    await writeFile(join(work, 'pair.pem'), `${keyPem.trim()}\n${certPem.trim()}\n`, { mode: privateFileMode });
    await link(join(work, 'pair.pem'), file).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e; // another process made it first: use theirs
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
