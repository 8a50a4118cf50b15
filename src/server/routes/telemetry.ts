import { AppError, ValidationError } from '../../core/errors.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { defaultMaxDataPoints, otlpMetricsRequestSchema } from '../../telemetry/formats/otlp.js';
import { encodeOtlpResponse, otlpProtobufMediaTypes } from '../../telemetry/formats/otlp-protobuf.js';
import { noConsentReason, type Ingestor } from '../../telemetry/ingest.js';
import type { Principal } from '../../contracts/access-scope.js';
import { sendJson } from '../http-error.js';
import { mediaType, readBody } from '../read-body.js';
import type { RequestContext, RouteSet } from '../router.js';
import { telemetryEventSchema } from '../../contracts/telemetry-event.js';
import { createIngestAdmission, type IngestLimits, type IngestTicket } from '../../telemetry/ingest-admission.js';
import { principalLabel } from '../route-scope.js';
import type { ServerMetrics } from '../metrics.js';

export interface TelemetryRoutesOptions {
  ingestor: Ingestor;
  /** Largest accepted body after decompression (default 16 MiB). */
  maxBodyBytes?: number;
  /** Decoding stops after this many invalid records and answers 400 (default 1,000). */
  maxInvalidRecords?: number;
  /** OTLP: data points one request may carry, counted before decoding (default 200,000); more is 413. */
  maxDataPoints?: number;
  /** What ingest holds at once, in total and per credential (default: defaultIngestLimits(maxBodyBytes)); past it a 429 with Retry-After. */
  limits?: Partial<IngestLimits>;
  /** The server's metrics, told of the admission (bytes and requests in flight, refusals by limit). */
  metrics?: Pick<ServerMetrics, 'watchIngest'>;
}

/**
 * Two bodies of the largest size per credential (one being read while the other is decoded and
 * written), four in all; requests: an OpenTelemetry Collector sends up to 10 at once by default.
 */
export function defaultIngestLimits(maxBodyBytes: number): IngestLimits {
  return { bytes: 4 * maxBodyBytes, bytesPerCredential: 2 * maxBodyBytes, requests: 64, requestsPerCredential: 16 };
}

/** What OTLP/HTTP answers a successful export: `{}`, or what was rejected and why. */
interface OtlpExportResponse {
  partialSuccess?: { rejectedDataPoints: string; errorMessage: string };
}

function sendBytes(res: ServerResponse, status: number, bytes: Buffer): void {
  res.writeHead(status, { 'content-type': 'application/x-protobuf', 'content-length': bytes.length });
  res.end(bytes);
}

/**
 * Whom a credential may write telemetry about, in clear: a client only itself, a source the
 * subjects it was issued for, the admin (or an app without auth) anyone.
 */
export function writableSubjects(principal: Principal | undefined): readonly string[] | undefined {
  if (principal === undefined || principal.kind === 'admin') return undefined;
  return principal.kind === 'client' ? [`client:${principal.clientId}`] : principal.subjects;
}

function forbiddenSubject(at: string, reason: string): AppError {
  return new AppError('FORBIDDEN', `${at}: ${reason}`, { details: { rule: 'telemetry-subject', at } });
}

const ndjsonTypes = new Set(['application/x-ndjson', 'application/ndjson', 'application/jsonl', 'application/x-jsonlines', 'application/jsonlines']);

/**
 * `POST /v1/telemetry`: TelemetryEvents as a JSON array (application/json) or NDJSON. Answers
 * `{accepted, alreadyStored, rejected, refused, errors:[{at, reason}]}` (`alreadyStored`: events it
 * had stored before, from a report sent again, not stored twice); 400 when nothing in it was valid.
 *
 * `POST /v1/metrics`: OTLP/HTTP, protobuf (the default of the OpenTelemetry SDKs and the
 * Collector) or JSON, gzip or not. Answers `{}` or `{partialSuccess: {rejectedDataPoints,
 * errorMessage}}` in the request's encoding, as the OTLP spec says; and so its errors (the scope
 * hook's 401 and 403 too): a google.rpc.Status (errorShape `otlp`).
 */
export function telemetryRoutes(options: TelemetryRoutesOptions): RouteSet {
  const maxBytes = options.maxBodyBytes ?? 16 * 1024 * 1024;
  const maxInvalid = options.maxInvalidRecords ?? 1000;
  const maxDataPoints = options.maxDataPoints ?? defaultMaxDataPoints;
  const { ingestor } = options;
  const limits = { ...defaultIngestLimits(maxBytes), ...options.limits };
  if (limits.bytesPerCredential < maxBytes) throw new ValidationError('ingest limits: bytesPerCredential', `${limits.bytesPerCredential} is below the largest body (${maxBytes}): such a body could never be taken`);
  if (limits.bytes < limits.bytesPerCredential) throw new ValidationError('ingest limits: bytes', `${limits.bytes} is below bytesPerCredential (${limits.bytesPerCredential})`);
  const admission = createIngestAdmission(limits);
  options.metrics?.watchIngest(admission);
  /**
   * Runs `handler` holding an admission ticket: refused (429) before a byte of the body is read
   * when the declared length does not fit, else as the body grows; released once answered. It
   * comes with the flag that lists the 429 in OpenAPI, so the two go together.
   */
  const admitted = (handler: (ctx: RequestContext, ticket: IngestTicket) => Promise<void>): { throttles: true; handler: (ctx: RequestContext) => Promise<void> } => ({
    throttles: true,
    handler: async (ctx) => {
      const identity = (ctx.req.headers['content-encoding'] ?? 'identity').trim().toLowerCase() === 'identity';
      const declared = Number(ctx.req.headers['content-length']);
      const ticket = admission.admit(principalLabel(ctx.principal) ?? '(none)', identity && Number.isFinite(declared) && declared > 0 ? Math.min(declared, maxBytes) : 0);
      try {
        await handler(ctx, ticket);
      } finally {
        ticket.release();
      }
    },
  });
  const read = (req: IncomingMessage, signal: AbortSignal, ticket: IngestTicket): Promise<Buffer> => readBody(req, { maxBytes, signal, hold: (n) => ticket.hold(n) });

  /** One ExportMetricsServiceRequest (whatever its encoding) decoded off this thread and stored; the OTLP answer. */
  const exportMetrics = async (body: Buffer, encoding: 'json' | 'protobuf', principal: Principal | undefined, signal: AbortSignal): Promise<OtlpExportResponse> => {
    const subjects = writableSubjects(principal);
    const r = await ingestor.ingestOtlp(body, encoding, { maxDataPoints, maxInvalid, ...(subjects ? { subjects } : {}) }, signal);
    if ('notARequest' in r) throw new AppError('VALIDATION', `body: not an ExportMetricsServiceRequest: ${r.notARequest}`);
    const { report } = r;
    if (report.forbidden) throw forbiddenSubject(report.forbidden.at, report.forbidden.reason);
    if (report.stoppedAtInvalid !== undefined) {
      throw new AppError('VALIDATION', `body: ${report.rejected} invalid data points and none valid; first: ${report.errors.slice(0, 3).map((e) => `${e.at}: ${e.reason}`).join('; ')}`, { details: { field: 'body', rule: 'max-invalid-records' } });
    }
    const rejected = r.rejectedDataPoints + report.refused;
    if (rejected === 0 && report.rejected === 0) return {};
    const reasons = report.errors.slice(0, 3).map((e) => `${e.at}: ${e.reason}`);
    if (report.refused > 0 && !reasons.some((x) => x.endsWith(noConsentReason))) reasons.push(noConsentReason);
    return { partialSuccess: { rejectedDataPoints: String(rejected), errorMessage: reasons.join('; ') } };
  };

  return [
    {
      method: 'POST',
      path: '/v1/telemetry',
      scope: 'telemetry-write',
      summary: 'TelemetryEvents as NDJSON or a JSON array',
      schemas: { body: telemetryEventSchema, bodyMediaType: 'application/x-ndjson' },
      ...admitted(async ({ req, res, signal, principal }, ticket) => {
        const type = mediaType(req);
        const ndjson = ndjsonTypes.has(type);
        if (!ndjson && type !== 'application/json') {
          throw new AppError('UNSUPPORTED_MEDIA_TYPE', `content-type: must be application/json (an array of events) or application/x-ndjson, not ${JSON.stringify(type || '(none)')}`, { details: { field: 'content-type' } });
        }
        const subjects = writableSubjects(principal);
        const report = await ingestor.ingestBody(await read(req, signal, ticket), ndjson ? 'ndjson' : 'json', { maxInvalid, ...(subjects ? { subjects } : {}) }, signal);
        if (report.forbidden) throw forbiddenSubject(report.forbidden.at, report.forbidden.reason);
        if (report.stoppedAtInvalid !== undefined) {
          const first = report.errors.slice(0, 3).map((e) => `${e.at}: ${e.reason}`).join('; ');
          throw new AppError('VALIDATION', `body: decoding stopped after ${report.stoppedAtInvalid} invalid records, nothing was stored; first: ${first}`, {
            details: { field: 'body', rule: 'max-invalid-records', maxInvalidRecords: maxInvalid, errors: report.errors },
          });
        }
        const nothingValid = report.accepted === 0 && report.refused === 0 && report.rejected > 0;
        if (nothingValid) return sendJson(res, 400, { error: 'VALIDATION', message: 'body: no valid record in it', details: { field: 'body', rule: 'no-valid-record' }, ...report });
        // Everything refused for want of consent: a 403, which tells an in-guest agent that its
        // subject withdrew (or never gave) consent, so it deletes its spool and stops.
        if (report.accepted === 0 && report.refused > 0) return sendJson(res, 403, { error: 'NO_CONSENT', message: noConsentReason, details: { rule: 'in-guest-consent' }, ...report });
        sendJson(res, 200, report);
      }),
    },
    {
      method: 'POST',
      path: '/v1/metrics',
      scope: 'telemetry-write',
      summary: 'OTLP/HTTP metrics, protobuf (application/x-protobuf) or JSON',
      errorShape: 'otlp',
      schemas: {
        body: otlpMetricsRequestSchema,
        bodyMediaType: 'application/json',
        binaryBodies: Object.fromEntries(otlpProtobufMediaTypes.map((t) => [t, 'opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest, protobuf-encoded'])),
      },
      ...admitted(async ({ req, res, signal, principal }, ticket) => {
        const type = mediaType(req);
        const protobuf = (otlpProtobufMediaTypes as readonly string[]).includes(type);
        if (!protobuf && type !== 'application/json') {
          throw new AppError('UNSUPPORTED_MEDIA_TYPE', `content-type: OTLP/HTTP is application/x-protobuf or application/json, not ${JSON.stringify(type || '(none)')}`, { details: { field: 'content-type' } });
        }
        const answer = await exportMetrics(await read(req, signal, ticket), protobuf ? 'protobuf' : 'json', principal, signal);
        if (!protobuf) return sendJson(res, 200, answer);
        // OTLP/HTTP: a protobuf request gets protobuf back (its errors too: errorShape).
        sendBytes(res, 200, encodeOtlpResponse(answer));
      }),
    },
  ];
}
