import type { RequestWorkflow } from '../../workflow/request-workflow.js';
import { sendJson } from '../http-error.js';
import type { RouteSet } from '../router.js';

export interface HealthRoutesDeps {
  workflow: Pick<RequestWorkflow, 'answered' | 'buildsStarted' | 'limiter'>;
}

/** `GET /healthz` (liveness) and `GET /metrics` (Prometheus text format) for the request workflow. */
export function healthRoutes(deps: HealthRoutesDeps): RouteSet {
  return [
    { method: 'GET', path: '/healthz', scope: 'public', summary: 'liveness', handler: ({ res }) => sendJson(res, 200, { status: 'ok' }) },
    {
      method: 'GET',
      path: '/metrics',
      scope: 'public',
      summary: 'request and build counters (Prometheus text format)',
      handler: ({ res }) => {
        const w = deps.workflow;
        const lines = [
          '# HELP prescient_requests_total Image requests answered, by how the image was obtained (error: no image).',
          '# TYPE prescient_requests_total counter',
          ...Object.entries(w.answered).map(([source, n]) => `prescient_requests_total{source="${source}"} ${n}`),
          '# HELP prescient_builds_total Pipeline builds started (retries not counted).',
          '# TYPE prescient_builds_total counter',
          `prescient_builds_total ${w.buildsStarted}`,
          '# HELP prescient_builds_running Builds running now.',
          '# TYPE prescient_builds_running gauge',
          `prescient_builds_running ${w.limiter.running}`,
          '# HELP prescient_builds_queued Builds waiting for a slot.',
          '# TYPE prescient_builds_queued gauge',
          `prescient_builds_queued ${w.limiter.queued}`,
        ];
        const text = `${lines.join('\n')}\n`;
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      },
    },
  ];
}
