import type { IncomingMessage } from 'node:http';
import { AppError, ValidationError } from '../core/errors.js';
import type { Authorize, EdgeAuth, OciAction, Principal, RouteScope } from '../contracts/access-scope.js';
import { clientIdPattern, clientRepository } from '../contracts/identifiers.js';
import { Credentials } from './credentials.js';
import { Sessions } from './session.js';
import { grantService, issueRegistryToken, verifyRegistryToken } from './registry-token.js';
import { loadSigningKey } from './signing-key.js';
import { allows, verifyToken, type Access, type IssuedToken, type TokenClaims } from './token.js';
import { TokenSigner } from './token-signer.js';

export { grantService } from './registry-token.js';
/** A grant lives 15 minutes: long enough for a pull to start, short enough that a leaked one soon dies. */
export const defaultGrantTtlSeconds = 15 * 60;

export interface GrantsOptions {
  secretsDir: string;
  ttlSeconds?: number;
  /** The clock, for tests of expiry. */
  now?: () => Date;
  /** Where clients reach `serve` (`--public-url`): the token realm. Never taken from a request's Host header. */
  publicUrl?: string;
}

const basicChallenge = `Basic realm="${grantService}"`;

/**
 * Scoped bearer grants and who may get them. A client may only ever hold `pull` on its own
 * repository `clients/<clientId>`; the admin may do anything; a source credential gets no token
 * at all. Tokens are minted only with a credential (HTTP Basic), never with another token, as
 * in the Docker token spec; each carries its credential's generation, so re-issuing or revoking
 * the credential ends it. The OCI routes call `authorize`, which answers the standard Docker
 * challenge so `skopeo --src-creds` finds `/v1/token` itself. Tokens are JWTs in
 * docker/distribution's format (registry-token.ts), so an external docker-registry that trusts
 * this home's certificate (`signer`, `prescient registry cert`) honours exactly the same grants.
 */
export class Grants {
  private realmBase: string;
  /** The dashboard's login sessions (a cookie standing for a credential). */
  readonly sessions: Sessions;

  private constructor(
    private readonly key: Buffer,
    /** Signs registry tokens (JWT, ES256); its certificate is what an external registry trusts. */
    readonly signer: TokenSigner,
    readonly credentials: Credentials,
    private readonly ttlSeconds: number,
    private readonly now: () => Date,
    publicUrl: string | undefined,
  ) {
    this.realmBase = publicUrl === undefined ? 'http://127.0.0.1:5080' : checkPublicUrl(publicUrl);
    this.sessions = new Sessions(key, now, (p) => this.credentials.generationOf(p));
  }

  static async open(options: GrantsOptions): Promise<Grants> {
    const key = await loadSigningKey(options.secretsDir);
    const signer = await TokenSigner.open(options.secretsDir);
    const credentials = await Credentials.open(options.secretsDir);
    return new Grants(key, signer, credentials, options.ttlSeconds ?? defaultGrantTtlSeconds, options.now ?? (() => new Date()), options.publicUrl);
  }

  /** The token realm's base, e.g. `https://images.example.com` (serve sets it once it knows its address). */
  set publicUrl(url: string) {
    this.realmBase = checkPublicUrl(url);
  }
  get publicUrl(): string {
    return this.realmBase;
  }

  /** Pull on the client's own repository: what a request hands back. */
  grantFor(clientId: string): IssuedToken {
    const gen = this.credentials.generationOf({ kind: 'client', clientId });
    return issueRegistryToken(this.signer, { sub: clientId, access: [{ repository: clientRepository(clientId), actions: ['pull'] }], gen, ttlSeconds: this.ttlSeconds, now: this.now() });
  }

  /**
   * A token for a principal and the scopes it asked for, cut down to what it may have (as the
   * Docker token spec says: the registry then refuses whatever was cut).
   */
  tokenFor(principal: Principal, requested: Access[]): IssuedToken {
    if (principal.kind === 'source') throw new AppError('FORBIDDEN', 'a source credential only writes telemetry; it gets no registry token', { details: { rule: 'source-telemetry-only' } });
    if (principal.kind === 'admin') {
      return issueRegistryToken(this.signer, { sub: 'admin', admin: true, access: requested, gen: this.credentials.generationOf(principal), ttlSeconds: this.ttlSeconds, now: this.now() });
    }
    const own = clientRepository(principal.clientId);
    const access = requested
      .filter((a) => a.repository === own && a.actions.includes('pull'))
      .map((a) => ({ repository: a.repository, actions: ['pull' as const] }));
    return issueRegistryToken(this.signer, { sub: principal.clientId, access, gen: this.credentials.generationOf(principal), ttlSeconds: this.ttlSeconds, now: this.now() });
  }

  /**
   * A token of this home's own, as the admin, for its pushes and pulls to an external registry
   * that trusts this home's certificate (ExternalRegistry's `mintToken`).
   */
  readonly adminToken = (access: Access[]): string => this.tokenFor({ kind: 'admin' }, access).token;

  /** The claims of a valid, unexpired token whose credential is still the one it was issued under. */
  verify(token: string): TokenClaims {
    // a two-part token is the HMAC format of before the JWTs: still accepted while those live (15 min)
    const claims = token.split('.').length === 2 ? verifyToken(this.key, token, this.now()) : verifyRegistryToken(this.signer, token, this.now());
    const current = claims.admin ? this.credentials.generationOf({ kind: 'admin' }) : clientIdPattern.test(claims.sub) ? this.credentials.generationOf({ kind: 'client', clientId: claims.sub }) : undefined;
    if (current !== claims.gen) throw new AppError('UNAUTHORIZED', 'token was revoked: its credential has been re-issued or revoked since', { details: { rule: 'credential-generation' } });
    return claims;
  }

  /**
   * The principal behind a request's credential (HTTP Basic), if it sent one. A bearer token is
   * not a credential: it pulls from /v2/ and does nothing else (above all, it mints no token).
   */
  credentialOf(req: IncomingMessage): Principal | undefined {
    const header = req.headers.authorization;
    if (header === undefined || header === '') return this.sessionPrincipal(req);
    const unauthorized = (message: string, rule: string): AppError => new AppError('UNAUTHORIZED', message, { details: { rule, wwwAuthenticate: basicChallenge } });
    if (/^Bearer\s/i.test(header)) throw unauthorized('a bearer token only pulls from /v2/; present the credential (HTTP Basic) here', 'credential-not-token');
    const basic = parseBasic(header);
    if (!basic) throw unauthorized('authorization: expected HTTP Basic with username:secret', 'basic-auth');
    const p = this.credentials.authenticate(basic.username, basic.secret);
    if (!p) throw unauthorized('invalid credentials', 'credential');
    return p;
  }

  /**
   * The dashboard's session cookie stands for the credential it was opened with (only when no
   * Authorization header is sent). A cross-site request never carries it (SameSite=Strict); a
   * state-changing one whose Origin is another site is refused as well.
   */
  private sessionPrincipal(req: IncomingMessage): Principal | undefined {
    const p = this.sessions.principalOf(req);
    if (p && !['GET', 'HEAD'].includes(req.method ?? 'GET')) {
      const origin = req.headers.origin;
      if (origin !== undefined && origin !== `http://${req.headers.host}` && origin !== `https://${req.headers.host}`) throw new AppError('FORBIDDEN', `a session cannot be used from ${origin}`, { details: { rule: 'session-origin' } });
    }
    return p;
  }

  /** What the edge's scope hook uses; `open` scopes need nothing (`serve --no-auth`). */
  edgeAuth(open: readonly RouteScope[] = []): EdgeAuth {
    return {
      credentialOf: (req) => this.credentialOf(req),
      registryToken: (req, access) => this.authorize({ ...access, req }),
      open,
      basicChallenge,
    };
  }

  /** The OCI routes' gate: a Bearer token whose scope covers the repository and action. */
  readonly authorize: Authorize = ({ repository, action, req }) => {
    const challenge = (error?: string): string =>
      `Bearer realm="${this.realmBase}/v1/token",service="${grantService}"` +
      (repository === null ? '' : `,scope="repository:${repository}:${action}"`) +
      (error ? `,error="${error}"` : '');
    const header = req.headers.authorization;
    const bearer = header ? /^Bearer\s+(\S+)$/i.exec(header)?.[1] : undefined;
    if (!bearer) throw new AppError('UNAUTHORIZED', 'authentication required: a bearer token from the realm', { details: { rule: 'registry-token', wwwAuthenticate: challenge() } });
    let claims: TokenClaims;
    try {
      claims = this.verify(bearer);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      throw new AppError('UNAUTHORIZED', message, { details: { rule: 'registry-token', wwwAuthenticate: challenge('invalid_token') } });
    }
    if (repository === null) return;
    if (!allows(claims, repository, action as OciAction)) {
      // Distribution answers 401 with the scope so a client can fetch a better token; ours cannot get one, so say so.
      throw new AppError('UNAUTHORIZED', `token does not grant ${action} on ${repository}`, { details: { rule: 'registry-scope', wwwAuthenticate: challenge('insufficient_scope') } });
    }
  };
}

/** An http(s) URL with no path, query or credentials: what the realm is built on. */
function checkPublicUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ValidationError('--public-url', 'not a URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ValidationError('--public-url', 'expected http:// or https://');
  if (u.username || u.password || u.search || u.hash) throw new ValidationError('--public-url', 'no credentials, query or fragment');
  return u.href.replace(/\/+$/, '');
}

/** `repository:clients/acme:pull,push` → Access; other resource types are ignored. */
export function parseScope(scope: string): Access | undefined {
  const m = /^repository:(?<name>[^:]+):(?<actions>[a-z*,]+)$/.exec(scope);
  if (!m?.groups) return undefined;
  const actions = m.groups['actions']!.split(',').flatMap((a): OciAction[] => (a === '*' ? ['pull', 'push', 'delete'] : a === 'pull' || a === 'push' || a === 'delete' ? [a] : []));
  return { repository: m.groups['name']!, actions };
}

function parseBasic(header: string): { username: string; secret: string } | undefined {
  const b64 = /^Basic\s+([A-Za-z0-9+/=_-]+)$/i.exec(header)?.[1];
  if (!b64) return undefined;
  const text = Buffer.from(b64, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  return { username: text.slice(0, colon), secret: text.slice(colon + 1) };
}
