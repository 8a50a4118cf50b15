import { openApiDocument } from '../openapi.js';
import { sendJson } from '../http-error.js';
import type { RouteSet } from '../router.js';

/** `GET /openapi.json`: the OpenAPI document of every route this server answers, itself included. */
export function openApiRoutes(deps: { routes: readonly RouteSet[]; version: string }): RouteSet {
  const self: RouteSet = [
    { method: 'GET', path: '/openapi.json', scope: 'public', summary: 'the OpenAPI 3.1 document of this server', handler: ({ res }) => sendJson(res, 200, openApiDocument(deps.routes.includes(self) ? deps.routes : [...deps.routes, self], { version: deps.version })) },
  ];
  return self;
}
