import { sendJson } from '../http-error.js';
import type { RouteScope } from '../../contracts/access-scope.js';
import type { RouteSet } from '../router.js';

export interface RouteTableEntry {
  methods: string[];
  path: string;
  scope: RouteScope;
  summary: string;
}

/** The route table as data: what the scope sweep test walks, and what an OpenAPI document is generated from. */
export function routeTable(routes: readonly RouteSet[]): RouteTableEntry[] {
  return routes.flat().map((r) => ({ methods: typeof r.method === 'string' ? [r.method] : [...r.method], path: r.path, scope: r.scope, summary: r.summary }));
}

/** `GET /v1/routes`: every route of this server with its scope (public: it says who may call what, nothing more). */
export function routeTableRoutes(deps: { routes: readonly RouteSet[] }): RouteSet {
  const self: RouteSet = [{ method: 'GET', path: '/v1/routes', scope: 'public', summary: 'every route with its scope', handler: ({ res }) => sendJson(res, 200, { routes: routeTable([...deps.routes, self]) }) }];
  return self;
}
