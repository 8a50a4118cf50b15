import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { OciAction } from '../contracts/access-scope.js';
import { AppError } from '../core/errors.js';



/** One Docker-style access entry: `repository:clients/acme:pull`. */
export interface Access {
  repository: string;
  actions: OciAction[];
}

export interface TokenClaims {
  /** Who the token was issued to: a client id, or `admin`. */
  sub: string;
  admin: boolean;
  access: Access[];
  /**
   * The generation of the credential the token was issued under (Credentials.generationOf):
   * re-issuing or revoking that credential changes it, and the token stops working.
   */
  gen: string;
  /** Seconds since the epoch. */
  iat: number;
  exp: number;
}

const claimsSchema = z.strictObject({
  sub: z.string(),
  admin: z.boolean(),
  access: z.array(z.strictObject({ repository: z.string(), actions: z.array(z.enum(['pull', 'push', 'delete'])) })),
  gen: z.string(),
  iat: z.number().int(),
  exp: z.number().int(),
});

export interface IssuedToken {
  token: string;
  expires_in: number;
  issued_at: string;
  claims: TokenClaims;
}

/**
 * A token is `base64url(claims JSON).base64url(HMAC-SHA256(key, that first part))`: self-contained
 * and short-lived; the one lookup is its credential's generation (Grants.verify), so re-issuing or
 * revoking a credential ends its live tokens. Dashboard sessions use this form; registry tokens
 * are JWTs a standard registry can verify (registry-token.ts), and Grants still accepts this form
 * from before them while those tokens live.
 */
export function signToken(key: Buffer, claims: TokenClaims): string {
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `${body}.${mac(key, body)}`;
}

export function issueToken(key: Buffer, input: { sub: string; admin?: boolean; access: Access[]; gen: string; ttlSeconds: number; now?: Date }): IssuedToken {
  const nowMs = (input.now ?? new Date()).getTime();
  const iat = Math.floor(nowMs / 1000);
  const claims: TokenClaims = { sub: input.sub, admin: input.admin ?? false, access: input.access, gen: input.gen, iat, exp: iat + input.ttlSeconds };
  return { token: signToken(key, claims), expires_in: input.ttlSeconds, issued_at: new Date(iat * 1000).toISOString(), claims };
}

/** The claims of a valid, unexpired token; otherwise UNAUTHORIZED saying why. */
export function verifyToken(key: Buffer, token: string, now: Date = new Date()): TokenClaims {
  const [body, sig, extra] = token.split('.');
  if (!body || !sig || extra !== undefined) throw new AppError('UNAUTHORIZED', 'malformed token');
  const expected = Buffer.from(mac(key, body));
  const given = Buffer.from(sig);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new AppError('UNAUTHORIZED', 'token signature is invalid');
  let claims: TokenClaims;
  try {
    claims = claimsSchema.parse(JSON.parse(Buffer.from(body, 'base64url').toString('utf8')));
  } catch {
    throw new AppError('UNAUTHORIZED', 'malformed token claims');
  }
  if (Math.floor(now.getTime() / 1000) >= claims.exp) throw new AppError('UNAUTHORIZED', 'token has expired', { details: { expiredAt: new Date(claims.exp * 1000).toISOString() } });
  return claims;
}

/** True when the claims allow `action` on `repository`. */
export function allows(claims: TokenClaims, repository: string, action: OciAction): boolean {
  if (claims.admin) return true;
  return claims.access.some((a) => a.repository === repository && a.actions.includes(action));
}

function mac(key: Buffer, body: string): string {
  return createHmac('sha256', key).update(body).digest('base64url');
}
