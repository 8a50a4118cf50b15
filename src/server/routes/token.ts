import { AppError } from '../../core/errors.js';
import { grantService, parseScope, type Grants } from '../../grants/grants.js';
import { sendJson } from '../http-error.js';
import type { RouteSet } from '../router.js';

export interface TokenRoutesDeps {
  grants: Grants;
}

/**
 * The Docker/OCI token endpoint: `GET /v1/token?service=prescient&scope=repository:clients/x:pull`
 * with Basic auth of a client or admin credential → `{ token, access_token, expires_in, issued_at }`.
 * A client asking for more than its own pull gets a token without it, as the token spec says.
 */
export function tokenRoutes(deps: TokenRoutesDeps): RouteSet {
  return [
    {
      method: 'GET',
      path: '/v1/token',
      scope: 'credential',
      summary: 'a registry bearer token for a credential (the Docker token flow)',
      handler: ({ res, url, principal }) => {
        if (!principal) throw new AppError('UNAUTHORIZED', 'a client or admin credential is needed (HTTP Basic)', { details: { wwwAuthenticate: `Basic realm="${grantService}"` } });
        const access = url.searchParams.getAll('scope').flatMap((s) => s.split(' ')).flatMap((s) => parseScope(s) ?? []);
        const issued = deps.grants.tokenFor(principal, access);
        sendJson(res, 200, { token: issued.token, access_token: issued.token, expires_in: issued.expires_in, issued_at: issued.issued_at });
      },
    },
  ];
}
