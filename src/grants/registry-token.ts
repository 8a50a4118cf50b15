import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { AppError } from '../core/errors.js';
import { toIssues } from '../core/field-issues.js';
import type { TokenSigner } from './token-signer.js';
import type { Access, IssuedToken, TokenClaims } from './token.js';

/** The service name in challenges and token requests (Docker's `service=`), and every token's `aud`. */
export const grantService = 'prescient';
/** Every token's `iss`: what docker-registry's `auth.token.issuer` must say. */
export const tokenIssuer = 'prescient';

/**
 * A registry token is a JWT in docker/distribution's token format, so one token opens the same
 * repository on Prescient's own registry and on an external one (docker-registry `auth: token`):
 * iss, sub, aud (the service), exp, nbf, iat, jti and `access: [{type: 'repository', name,
 * actions}]`, signed ES256 by the home's TokenSigner with its certificate in `x5c`. Two claims
 * are Prescient's (the registry ignores them): `gen`, the credential's generation, so re-issuing
 * or revoking it ends its live tokens here; `admin`, which here means every repository (the
 * external registry sees only the listed access).
 */
const jwtClaimsSchema = z.object({
  iss: z.literal(tokenIssuer),
  sub: z.string(),
  aud: z.union([z.literal(grantService), z.array(z.string()).refine((a) => a.includes(grantService))]),
  exp: z.number().int(),
  nbf: z.number().int(),
  iat: z.number().int(),
  jti: z.string(),
  access: z.array(z.object({ type: z.string(), name: z.string(), actions: z.array(z.string()) })),
  gen: z.string(),
  admin: z.boolean(),
});

/** Clock skew tolerated on `nbf`, as docker/distribution does. */
const leewaySeconds = 60;

export function issueRegistryToken(signer: TokenSigner, input: { sub: string; admin?: boolean; access: Access[]; gen: string; ttlSeconds: number; now?: Date }): IssuedToken {
  const iat = Math.floor((input.now ?? new Date()).getTime() / 1000);
  const claims: TokenClaims = { sub: input.sub, admin: input.admin ?? false, access: input.access, gen: input.gen, iat, exp: iat + input.ttlSeconds };
  const token = signer.signJwt({
    iss: tokenIssuer,
    sub: input.sub,
    aud: grantService,
    exp: claims.exp,
    nbf: iat,
    iat,
    jti: randomUUID(),
    access: input.access.map((a) => ({ type: 'repository', name: a.repository, actions: a.actions })),
    gen: input.gen,
    admin: claims.admin,
  });
  return { token, expires_in: input.ttlSeconds, issued_at: new Date(iat * 1000).toISOString(), claims };
}

/** The claims of a valid, unexpired registry token; otherwise UNAUTHORIZED saying why. */
export function verifyRegistryToken(signer: TokenSigner, token: string, now: Date = new Date()): TokenClaims {
  const parsed = jwtClaimsSchema.safeParse(signer.verifyJwt(token));
  if (!parsed.success) throw new AppError('UNAUTHORIZED', `malformed token claims: ${toIssues(parsed.error).map((i) => i.path).join(', ')}`);
  const c = parsed.data;
  const t = Math.floor(now.getTime() / 1000);
  if (t >= c.exp) throw new AppError('UNAUTHORIZED', 'token has expired', { details: { expiredAt: new Date(c.exp * 1000).toISOString() } });
  if (t + leewaySeconds < c.nbf) throw new AppError('UNAUTHORIZED', 'token is not valid yet');
  const access: Access[] = c.access
    .filter((a) => a.type === 'repository')
    .map((a) => ({ repository: a.name, actions: a.actions.filter((x): x is Access['actions'][number] => x === 'pull' || x === 'push' || x === 'delete') }));
  return { sub: c.sub, admin: c.admin, access, gen: c.gen, iat: c.iat, exp: c.exp };
}
