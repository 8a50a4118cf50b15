import { z } from 'zod';
import { AppError } from '../../core/errors.js';
import type { Principal } from '../../contracts/access-scope.js';
import type { DashboardReader } from '../../dashboard/dashboard-reader.js';
import { repositoryOf } from '../../dashboard/dashboard-reader.js';
import type { Registry } from '../../registry/registry.js';
import { firstIssueError } from '../../core/field-issues.js';
import { sendJson } from '../http-error.js';
import { readJsonBody } from '../read-json-body.js';
import type { RouteSet } from '../router.js';
import { sendJsonCompressed } from '../send-compressed.js';
import { viewerOf } from './session.js';

export interface DashboardRoutesDeps {
  reader: DashboardReader;
  registry: Pick<Registry, 'rollback'>;
}

const diffQuery = z.strictObject({ from: z.coerce.number().int().min(1).max(1e9), to: z.coerce.number().int().min(1).max(1e9) });
const rollbackBody = z.strictObject({ to: z.union([z.number().int().min(1), z.string().regex(/^v?\d{1,9}$/)]).optional() });

/** The scope hook authenticated the caller; a dashboard view is for a person with a client or admin credential. */
function viewer(p: Principal | undefined): ReturnType<typeof viewerOf> {
  if (p === undefined) return { kind: 'admin' }; // `serve --no-auth` leaves client-own open: loopback experiments only
  if (p.kind === 'source') throw new AppError('FORBIDDEN', `source credential ${p.name} only writes telemetry`, { details: { rule: 'scope:credential' } });
  return viewerOf(p);
}

const clientOf = ({ params }: { params: Record<string, string> }): string | undefined => params['clientId'];

/**
 * The dashboard's read API (and the one write it needs that had no route: rollback). Every
 * call needs a credential or the session cookie; a client sees only itself (403 elsewhere).
 */
export function dashboardRoutes(deps: DashboardRoutesDeps): RouteSet {
  return [
    {
      method: 'GET',
      path: '/v1/dashboard/overview',
      scope: 'credential',
      summary: 'the fleet: every client (a client credential: itself) with its last answer, builds, telemetry freshness, consent; the hit rate per day',
      handler: async ({ req, res, principal }) => sendJsonCompressed(req, res, 200, await deps.reader.overview(viewer(principal)), { 'cache-control': 'no-store' }),
    },
    {
      method: 'GET',
      path: '/v1/dashboard/models',
      scope: 'admin',
      summary: 'per category, the backtest of every model against every baseline and the selected one',
      handler: async ({ req, res }) => sendJsonCompressed(req, res, 200, await deps.reader.models(), { 'cache-control': 'no-store' }),
    },
    {
      method: 'GET',
      path: '/v1/dashboard/clients/:clientId',
      scope: 'client-own',
      clientOf,
      summary: "a client's page: usage against forecast and allocation, versions with provenance, used programs, recent answers",
      handler: async ({ req, res, params, principal }) => {
        repositoryOf(params['clientId']!);
        await sendJsonCompressed(req, res, 200, await deps.reader.clientPage(params['clientId']!, viewer(principal)), { 'cache-control': 'no-store' });
      },
    },
    {
      method: 'GET',
      path: '/v1/dashboard/clients/:clientId/diff',
      scope: 'client-own',
      clientOf,
      summary: 'what changed between two versions of a client (?from=N&to=M), with the prediction behind each change',
      handler: async ({ req, res, params, url, principal }) => {
        viewer(principal);
        repositoryOf(params['clientId']!);
        const q = diffQuery.safeParse(Object.fromEntries(url.searchParams));
        if (!q.success) throw firstIssueError(q.error);
        await sendJsonCompressed(req, res, 200, await deps.reader.diff(params['clientId']!, q.data.from, q.data.to), { 'cache-control': 'no-store' });
      },
    },
    {
      method: 'POST',
      path: '/v1/clients/:clientId/rollback',
      scope: 'admin',
      summary: "move a client's latest tag back (body {to?: version}; default: the version before), as `prescient images rollback`",
      handler: async ({ req, res, params }) => {
        const repository = repositoryOf(params['clientId']!);
        const body = rollbackBody.safeParse(await readJsonBody(req));
        if (!body.success) throw firstIssueError(body.error);
        sendJson(res, 200, await deps.registry.rollback(repository, body.data.to === undefined ? {} : { to: body.data.to }));
      },
    },
  ];
}
