import type { Grants } from '../../grants/grants.js';
import { checkClientId } from '../../contracts/identifiers.js';
import { sendJson } from '../http-error.js';
import type { RouteSet } from '../router.js';

export interface CredentialRoutesDeps {
  grants: Grants;
}

/**
 * Administrative: `POST /v1/clients/<clientId>/credentials` (the admin credential)
 * creates or replaces a client's credential and answers its secret, once.
 */
export function credentialRoutes(deps: CredentialRoutesDeps): RouteSet {
  return [
    {
      method: 'POST',
      path: '/v1/clients/:clientId/credentials',
      scope: 'admin',
      summary: "create or replace a client's credential; answers its secret once",
      handler: async ({ req, res, params }) => {
        const clientId = checkClientId(params['clientId']!);
        req.resume();
        sendJson(res, 201, await deps.grants.credentials.issue(clientId));
      },
    },
  ];
}
