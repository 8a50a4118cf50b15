import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RequestWorkflow } from '../workflow/request-workflow.js';
import { ingestLimitNames, type IngestAdmission } from '../telemetry/ingest-admission.js';

export interface ServerMetrics {
  registry: Registry;
  /** One answered HTTP request: `route` is the route's pattern (`/v2/*`), never the raw path. */
  observeRequest(r: { method: string; route: string; status: number; seconds: number }): void;
  /** The telemetry admission whose bytes and requests in flight, and refusals, are reported (telemetryRoutes tells it). */
  watchIngest(admission: Pick<IngestAdmission, 'inFlight' | 'refusals'>): void;
}

/**
 * `/metrics` with prom-client: the process's default metrics (CPU, memory, event loop, GC, file
 * descriptors), HTTP request durations per route and status, build durations per pipeline
 * module, the build queue, the prebuilt hit rate, telemetry admission (in flight, refusals) and
 * `prescient_build_info`. Workflow and admission figures are
 * read when scraped, so nothing is counted twice.
 */
export function createServerMetrics(deps: { workflow?: Pick<RequestWorkflow, 'answered' | 'builds'>; version: string }): ServerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // These three are gauges named like counters, which `promtool check metrics` refuses; the
  // counts without the suffix (nodejs_active_handles, nodejs_active_requests) stay.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name);
  new Gauge({ name: 'prescient_build_info', help: 'Always 1; the labels say which Prescient runs.', labelNames: ['version', 'node'], registers: [registry] }).set({ version: deps.version, node: process.version }, 1);
  const http = new Histogram({
    name: 'prescient_http_request_duration_seconds',
    help: 'HTTP requests by method, route pattern and status, from arrival to the last byte sent.',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  // Telemetry admission, read when scraped: totals only, never a credential or client as a label
  // (one series per caller would grow without bound, and would name who sends).
  let ingest: Pick<IngestAdmission, 'inFlight' | 'refusals'> | undefined;
  new Gauge({ name: 'prescient_telemetry_inflight_bytes', help: 'Telemetry body bytes held now (being read, decoded or written), all callers together.', registers: [registry], collect() { this.set(ingest?.inFlight().bytes ?? 0); } });
  new Gauge({ name: 'prescient_telemetry_inflight_requests', help: 'Telemetry requests in progress now, all callers together.', registers: [registry], collect() { this.set(ingest?.inFlight().requests ?? 0); } });
  new Counter({
    name: 'prescient_telemetry_refused_total',
    help: 'Telemetry requests refused with 429 by admission control, by the limit that refused them (bytes, bytesPerCredential, requests, requestsPerCredential).',
    labelNames: ['limit'],
    registers: [registry],
    collect() {
      this.reset();
      const r = ingest?.refusals();
      for (const limit of ingestLimitNames) this.inc({ limit }, r?.[limit] ?? 0);
    },
  });
  const w = deps.workflow;
  if (w) {
    const modules = new Histogram({
      name: 'prescient_build_module_duration_seconds',
      help: 'Pipeline module durations in builds, by module and outcome (built, reused, pulled, no-changes, spec-only).',
      labelNames: ['module', 'outcome'],
      buckets: [0.01, 0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800],
      registers: [registry],
    });
    w.builds.onModuleDone = (m) => modules.observe({ module: m.module, outcome: m.outcome }, m.ms / 1000);
    new Counter({
      name: 'prescient_requests_total',
      help: 'Image requests answered, by how the image was obtained (error: no image).',
      labelNames: ['source'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [source, n] of Object.entries(w.answered)) this.inc({ source }, n);
      },
    });
    new Counter({ name: 'prescient_builds_total', help: 'Pipeline builds started (retries not counted).', registers: [registry], collect() { this.reset(); this.inc(w.builds.started); } });
    new Gauge({ name: 'prescient_builds_running', help: 'Builds running now.', registers: [registry], collect() { this.set(w.builds.limiter.running); } });
    new Gauge({ name: 'prescient_builds_queued', help: 'Builds waiting for a slot (the build queue depth).', registers: [registry], collect() { this.set(w.builds.limiter.queued); } });
    new Gauge({
      name: 'prescient_prebuilt_hit_ratio',
      help: 'Share of answered image requests served from an image built ahead (prebuilt), 0 before any request.',
      registers: [registry],
      collect() {
        const a = w.answered as Record<string, number>;
        const answered = Object.entries(a).filter(([k]) => k !== 'error').reduce((n, [, v]) => n + v, 0);
        this.set(answered === 0 ? 0 : (a['prebuilt'] ?? 0) / answered);
      },
    });
  }
  return {
    registry,
    observeRequest: (r) => http.observe({ method: r.method, route: r.route, status: String(r.status) }, r.seconds),
    watchIngest: (admission) => void (ingest = admission),
  };
}
