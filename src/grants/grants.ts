import type { IncomingMessage } from 'node:http';
import { AppError } from '../core/errors.js';
import type { Authorize, OciAction } from '../server/routes/oci.js';
import { Credentials, type Principal } from './credentials.js';
import { loadSigningKey } from './signing-key.js';
import { allows, issueToken, verifyToken, type Access, type GrantAction, type IssuedToken, type TokenClaims } from './token.js';

/** The service name in challenges and token requests (Docker's `service=`). */
export const grantService = 'prescient';
/** A grant lives 15 minutes: long enough for a pull to start, short enough that a leaked one soon dies. */
export const defaultGrantTtlSeconds = 15 * 60;

export function clientRepository(clientId: string): string {
  return `clients/${clientId}`;
}

export interface GrantsOptions {
  secretsDir: string;
  ttlSeconds?: number;
  /** The clock, for tests of expiry. */
  now?: () => Date;
}

/**
 * Scoped bearer grants and who may get them. A client may only ever hold `pull` on its own
 * repository `clients/<clientId>`; the admin may do anything. The OCI routes call `authorize`,
 * which answers the standard Docker challenge so `skopeo --src-creds` finds `/v1/token` itself.
 */
export class Grants {
  private constructor(
    private readonly key: Buffer,
    readonly credentials: Credentials,
    private readonly ttlSeconds: number,
    private readonly now: () => Date,
  ) {}

  static async open(options: GrantsOptions): Promise<Grants> {
    const key = await loadSigningKey(options.secretsDir);
    const credentials = await Credentials.open(options.secretsDir);
    return new Grants(key, credentials, options.ttlSeconds ?? defaultGrantTtlSeconds, options.now ?? (() => new Date()));
  }

  /** Pull on the client's own repository: what a request hands back. */
  grantFor(clientId: string): IssuedToken {
    return issueToken(this.key, { sub: clientId, access: [{ repository: clientRepository(clientId), actions: ['pull'] }], ttlSeconds: this.ttlSeconds, now: this.now() });
  }

  /**
   * A token for a principal and the scopes it asked for, cut down to what it may have (as the
   * Docker token spec says: the registry then refuses whatever was cut).
   */
  tokenFor(principal: Principal, requested: Access[]): IssuedToken {
    if (principal.kind === 'admin') return issueToken(this.key, { sub: 'admin', admin: true, access: requested, ttlSeconds: this.ttlSeconds, now: this.now() });
    const own = clientRepository(principal.clientId);
    const access = requested
      .filter((a) => a.repository === own && a.actions.includes('pull'))
      .map((a) => ({ repository: a.repository, actions: ['pull' as const] }));
    return issueToken(this.key, { sub: principal.clientId, access, ttlSeconds: this.ttlSeconds, now: this.now() });
  }

  verify(token: string): TokenClaims {
    return verifyToken(this.key, token, this.now());
  }

  /** The principal behind a request's Authorization header (Basic credential or Bearer token), if any. */
  async principalOf(req: IncomingMessage): Promise<Principal | undefined> {
    const header = req.headers.authorization;
    if (!header) return undefined;
    const basic = parseBasic(header);
    if (basic) {
      const p = await this.credentials.authenticate(basic.username, basic.secret);
      if (!p) throw new AppError('UNAUTHORIZED', 'invalid credentials', { details: { wwwAuthenticate: `Basic realm="${grantService}"` } });
      return p;
    }
    const bearer = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    if (!bearer) throw new AppError('UNAUTHORIZED', 'unsupported Authorization scheme');
    const claims = this.verify(bearer);
    return claims.admin ? { kind: 'admin' } : { kind: 'client', clientId: claims.sub };
  }

  /** Throws unless the request carries the admin credential (Basic) or an admin token (Bearer). */
  async requireAdmin(req: IncomingMessage): Promise<void> {
    const p = await this.principalOf(req);
    if (!p) throw new AppError('UNAUTHORIZED', 'an admin credential is needed', { details: { wwwAuthenticate: `Basic realm="${grantService}"` } });
    if (p.kind !== 'admin') throw new AppError('FORBIDDEN', 'an admin credential is needed');
  }

  /**
   * Throws unless the request carries a credential that may read about `clientId`: the admin, or
   * that client itself. With no client (a category's data), any valid credential will do.
   */
  async requireClientOrAdmin(req: IncomingMessage, clientId: string | undefined): Promise<Principal> {
    const p = await this.principalOf(req);
    if (!p) throw new AppError('UNAUTHORIZED', 'a client or admin credential is needed', { details: { wwwAuthenticate: `Basic realm="${grantService}"` } });
    if (p.kind === 'client' && clientId !== undefined && p.clientId !== clientId) throw new AppError('FORBIDDEN', `credential of ${p.clientId} cannot read about ${clientId}`);
    return p;
  }

  /** The OCI routes' gate: a Bearer token whose scope covers the repository and action. */
  readonly authorize: Authorize = ({ repository, action, req }) => {
    const host = req.headers.host ?? '127.0.0.1';
    const challenge = (error?: string): string =>
      `Bearer realm="http://${host}/v1/token",service="${grantService}"` +
      (repository === null ? '' : `,scope="repository:${repository}:${action}"`) +
      (error ? `,error="${error}"` : '');
    const header = req.headers.authorization;
    const bearer = header ? /^Bearer\s+(\S+)$/i.exec(header)?.[1] : undefined;
    if (!bearer) throw new AppError('UNAUTHORIZED', 'authentication required', { details: { wwwAuthenticate: challenge() } });
    let claims: TokenClaims;
    try {
      claims = this.verify(bearer);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      throw new AppError('UNAUTHORIZED', message, { details: { wwwAuthenticate: challenge('invalid_token') } });
    }
    if (repository === null) return;
    if (!allows(claims, repository, action as GrantAction)) {
      // Distribution answers 401 with the scope so a client can fetch a better token; ours cannot get one, so say so.
      throw new AppError('UNAUTHORIZED', `token does not grant ${action} on ${repository}`, { details: { wwwAuthenticate: challenge('insufficient_scope') } });
    }
  };
}

/** `repository:clients/acme:pull,push` → Access; other resource types are ignored. */
export function parseScope(scope: string): Access | undefined {
  const m = /^repository:(?<name>[^:]+):(?<actions>[a-z*,]+)$/.exec(scope);
  if (!m?.groups) return undefined;
  const actions = m.groups['actions']!.split(',').flatMap((a): OciAction[] => (a === '*' ? ['pull', 'push', 'delete'] : a === 'pull' || a === 'push' || a === 'delete' ? [a] : []));
  return { repository: m.groups['name']!, actions };
}

function parseBasic(header: string): { username: string; secret: string } | undefined {
  const b64 = /^Basic\s+(\S+)$/i.exec(header)?.[1];
  if (!b64) return undefined;
  const text = Buffer.from(b64, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  return { username: text.slice(0, colon), secret: text.slice(colon + 1) };
}
