import type { RequestWorkflow } from '../../workflow/request-workflow.js';
import { sendJson } from '../http-error.js';
import { createServerMetrics, type ServerMetrics } from '../metrics.js';
import type { RouteSet } from '../router.js';

export interface HealthRoutesDeps {
  workflow: Pick<RequestWorkflow, 'answered' | 'builds'>;
  /** The server's metrics (prom-client); made here from the workflow when not given. */
  metrics?: ServerMetrics;
  version?: string;
}

/** `GET /healthz` (liveness) and `GET /metrics` (Prometheus text format, prom-client). */
export function healthRoutes(deps: HealthRoutesDeps): RouteSet {
  const metrics = deps.metrics ?? createServerMetrics({ workflow: deps.workflow, version: deps.version ?? '0.0.0' });
  return [
    { method: 'GET', path: '/healthz', scope: 'public', summary: 'liveness', handler: ({ res }) => sendJson(res, 200, { status: 'ok' }) },
    {
      method: 'GET',
      path: '/metrics',
      scope: 'public',
      summary: 'Prometheus metrics: process, HTTP durations per route and status, builds per module, queue, prebuilt hit rate, build info',
      handler: async ({ res }) => {
        const text = await metrics.registry.metrics();
        res.writeHead(200, { 'content-type': metrics.registry.contentType, 'content-length': Buffer.byteLength(text) });
        res.end(text);
      },
    },
  ];
}
