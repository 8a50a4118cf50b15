import type { IncomingMessage } from 'node:http';
import { AppError, ValidationError } from '../core/errors.js';
import type { EdgeAuth, Principal } from '../contracts/access-scope.js';
import type { Route } from './router.js';

/**
 * The one place a route's scope is enforced. Resolves with the principal the handler may act
 * for (undefined on public and open routes); throws 401 when a credential is missing or invalid
 * and 403 when it is valid but not allowed here, each naming the scope as the rule.
 */
export async function enforceScope(input: { route: Pick<Route, 'scope' | 'clientOf' | 'registryAccess'>; auth: EdgeAuth | undefined; req: IncomingMessage; params: Record<string, string>; query: () => URLSearchParams }): Promise<Principal | undefined> {
  const { route, auth, req } = input;
  const scope = route.scope;
  if (auth === undefined || scope === 'public' || auth.open?.includes(scope)) return undefined;
  const rule = { rule: `scope:${scope}` };
  if (scope === 'registry') {
    const access = route.registryAccess?.({ params: input.params, method: req.method ?? 'GET' });
    if (access !== undefined) await auth.registryToken(req, access);
    return undefined;
  }
  const principal = await auth.credentialOf(req);
  if (principal === undefined) {
    throw new AppError('UNAUTHORIZED', scope === 'admin' ? 'the admin credential is needed (HTTP Basic)' : 'a credential is needed (HTTP Basic)', { details: { ...rule, wwwAuthenticate: auth.basicChallenge } });
  }
  if (scope === 'telemetry-write') return principal;
  if (principal.kind === 'source') throw new AppError('FORBIDDEN', `source credential ${principal.name} only writes telemetry`, { details: rule });
  if (scope === 'admin') {
    if (principal.kind !== 'admin') throw new AppError('FORBIDDEN', 'the admin credential is needed', { details: rule });
    return principal;
  }
  if (scope === 'client-own' && principal.kind === 'client') {
    const query = input.query();
    // The check reads one value and the handler may read another (`get` the first, fromEntries the last): `?client=a&client=b` must not pass as a and answer for b.
    const repeated = [...new Set(query.keys())].find((k) => query.getAll(k).length > 1);
    if (repeated !== undefined) throw new ValidationError(repeated, 'given more than once; a client-own route takes each query parameter once', { rule: 'single-valued-query' });
    const client = route.clientOf?.({ params: input.params, query });
    if (client !== undefined && client !== principal.clientId) throw new AppError('FORBIDDEN', `credential of ${principal.clientId} cannot act for ${client}`, { details: rule });
  }
  return principal;
}

/** How a principal appears in request logs: `admin`, the client id, or `source/<name>`. */
export function principalLabel(p: Principal | undefined): string | undefined {
  if (p === undefined) return undefined;
  return p.kind === 'admin' ? 'admin' : p.kind === 'client' ? p.clientId : `source/${p.name}`;
}
