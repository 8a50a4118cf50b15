import { createHmac } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Principal } from '../contracts/access-scope.js';
import { AppError } from '../core/errors.js';
import { issueToken, verifyToken } from './token.js';

/** The dashboard's session cookie. `__Host-` would demand Secure, which plain-HTTP loopback cannot give. */
export const sessionCookieName = 'prescient_session';
/** A working day: a morning's look and the afternoon's, then log in again. */
export const sessionTtlSeconds = 8 * 3600;

/**
 * Browser sessions: after a login with a credential, a signed, expiring token in an HttpOnly,
 * SameSite=Strict cookie stands for the same principal. Sessions are signed with a key derived
 * from the grant key for this one purpose, so a session can never be used as a pull grant and a
 * grant never as a session.
 */
type SessionPrincipal = { kind: 'admin' } | { kind: 'client'; clientId: string };

export class Sessions {
  private readonly key: Buffer;

  /** `generationOf`: a session, like a grant, ends when its credential is re-issued or revoked. */
  constructor(
    grantKey: Buffer,
    private readonly now: () => Date,
    private readonly generationOf: (p: SessionPrincipal) => string,
  ) {
    this.key = createHmac('sha256', grantKey).update('prescient dashboard session v1').digest();
  }

  /**
   * The Set-Cookie value that logs `principal` in. `secure` (the login came over HTTPS): cookies
   * are not bound to a port or scheme, so without it the browser would also send it to plain HTTP
   * on the same host, where anyone on the path reads it.
   */
  cookieFor(principal: SessionPrincipal, options: { secure?: boolean } = {}): { cookie: string; expiresAt: string } {
    const t = issueToken(this.key, { sub: principal.kind === 'admin' ? 'admin' : principal.clientId, admin: principal.kind === 'admin', access: [], gen: this.generationOf(principal), ttlSeconds: sessionTtlSeconds, now: this.now() });
    return {
      cookie: `${sessionCookieName}=${t.token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${sessionTtlSeconds}${options.secure ? '; Secure' : ''}`,
      expiresAt: new Date(t.claims.exp * 1000).toISOString(),
    };
  }

  /** The Set-Cookie value that logs out. */
  static clearCookie(options: { secure?: boolean } = {}): string {
    return `${sessionCookieName}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${options.secure ? '; Secure' : ''}`;
  }

  /** The principal of the request's session cookie; undefined without one; UNAUTHORIZED when it is forged or expired. */
  principalOf(req: IncomingMessage): Principal | undefined {
    const value = sessionCookie(req.headers.cookie);
    if (value === undefined) return undefined;
    const claims = verifyToken(this.key, value, this.now());
    const p: SessionPrincipal = claims.admin ? { kind: 'admin' } : { kind: 'client', clientId: claims.sub };
    let current: string | undefined;
    try {
      current = this.generationOf(p);
    } catch {
      current = undefined;
    }
    if (current !== claims.gen) throw new AppError('UNAUTHORIZED', 'session ended: its credential has been re-issued or revoked since; log in again', { details: { rule: 'session' } });
    return p;
  }
}

function sessionCookie(header: string | undefined): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === sessionCookieName) return part.slice(eq + 1).trim() || undefined;
  }
  return undefined;
}
