import type { RequestWorkflow } from '../../workflow/request-workflow.js';
import { sendJson } from '../http-error.js';
import { createServerMetrics, type ServerMetrics } from '../metrics.js';
import type { RouteSet } from '../router.js';

export interface HealthRoutesDeps {
  /** Its build figures go to /metrics (none without it). */
  workflow?: Pick<RequestWorkflow, 'answered' | 'builds'>;
  /** The server's metrics (prom-client); made here from the workflow when not given. */
  metrics?: ServerMetrics;
  version?: string;
  /** What must answer for the server to be ready (store, queue): each a round trip that reads nothing. */
  readiness?: Record<string, () => Promise<void>>;
}

/** A check that has not answered by then counts as down: a halted database holds a query until its own timeout. */
const readinessTimeoutMs = 2000;

async function answers(check: () => Promise<void>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), readinessTimeoutMs)));
  try {
    return await Promise.race([check().then(() => true, () => false), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `GET /healthz` (liveness: the process answers), `GET /readyz` (readiness: what it needs answers
 * too, else 503 naming it, so a load balancer sends requests elsewhere and retries) and
 * `GET /metrics` (Prometheus text format, prom-client). Public: they name parts, never addresses.
 */
export function healthRoutes(deps: HealthRoutesDeps): RouteSet {
  const metrics = deps.metrics ?? createServerMetrics({ ...(deps.workflow ? { workflow: deps.workflow } : {}), version: deps.version ?? '0.0.0' });
  return [
    { method: 'GET', path: '/healthz', scope: 'public', summary: 'liveness', handler: ({ res }) => sendJson(res, 200, { status: 'ok' }) },
    {
      method: 'GET',
      path: '/readyz',
      scope: 'public',
      summary: 'readiness: 200 when the telemetry store (and the build queue, when there is one) answer; 503 naming the one that does not, with Retry-After',
      handler: async ({ res }) => {
        const names = Object.keys(deps.readiness ?? {});
        const up = await Promise.all(names.map((n) => answers(deps.readiness![n]!)));
        const checks = Object.fromEntries(names.map((n, i) => [n, up[i] ? 'ok' : 'unavailable']));
        const down = names.filter((_, i) => !up[i]);
        if (down.length === 0) return sendJson(res, 200, { status: 'ready', checks });
        sendJson(res, 503, { status: 'unavailable', cause: down.join(','), checks }, { 'retry-after': '5' });
      },
    },
    {
      method: 'GET',
      path: '/metrics',
      scope: 'public',
      summary: 'Prometheus metrics: process, HTTP durations per route and status, builds per module, queue, prebuilt hit rate, telemetry admission (in flight, refused by limit), build info',
      handler: async ({ res }) => {
        const text = await metrics.registry.metrics();
        res.writeHead(200, { 'content-type': metrics.registry.contentType, 'content-length': Buffer.byteLength(text) });
        res.end(text);
      },
    },
  ];
}
