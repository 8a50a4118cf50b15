import { checkClientId } from '../../contracts/identifiers.js';
import type { ClientAccuracy } from '../../accuracy/client-accuracy.js';
import { sendJson } from '../http-error.js';
import type { RouteSet } from '../router.js';

export interface AccuracyRoutesDeps {
  accuracy: (clientId: string) => Promise<ClientAccuracy>;
}

/**
 * `GET /v1/clients/<clientId>/accuracy`: predicted against observed for every version the client
 * ran (src/accuracy/). The client itself or the admin.
 */
export function accuracyRoutes(deps: AccuracyRoutesDeps): RouteSet {
  return [
    {
      method: 'GET',
      path: '/v1/clients/:clientId/accuracy',
      scope: 'client-own',
      clientOf: ({ params }) => params['clientId'],
      summary: 'predicted against observed for every image version the client ran (its in-guest agent)',
      handler: async ({ res, params }) => {
        const clientId = checkClientId(params['clientId']!);
        sendJson(res, 200, await deps.accuracy(clientId));
      },
    },
  ];
}
