import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError, ConfigFileError, isServerSide, serverSideMessage, toAppError, type ErrorCode } from '../core/errors.js';
import { OciError, type OciErrorCode } from '../registry/oci-error.js';
import { otlpProtobufMediaTypes } from '../telemetry/formats/otlp-protobuf.js';
import { encodeOtlpStatus, otlpStatus } from '../telemetry/formats/otlp-status.js';
import { mediaType } from './read-body.js';
import type { ErrorShape } from './router.js';

/** The one place where error codes become HTTP statuses. */
export const httpStatusByCode: Record<ErrorCode, number> = {
  VALIDATION: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  UNSAFE_PATH: 400,
  EXTERNAL_TOOL: 502,
  TIMEOUT: 504,
  ABORTED: 499,
  UNSUPPORTED: 501,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  // 503, not 500: clients (OTLP exporters, skopeo, the Collector) retry it, and it is not our bug
  UNAVAILABLE: 503,
  // 429 is what OTLP/HTTP names for throttling, retried by exporters after Retry-After
  TOO_MANY_REQUESTS: 429,
  INTERNAL: 500,
};

/** A method the path exists for but does not take: 405, not 501. */
export class MethodNotAllowedError extends AppError {
  constructor(method: string, path: string) {
    super('UNSUPPORTED', `${method} is not allowed on ${path}`, { details: { rule: 'method' } });
  }
}

export interface ErrorResponse {
  status: number;
  /** content-type included. */
  headers: Record<string, string>;
  /** The encoded body. */
  payload: Buffer;
  /** True for a failure that is ours, not the caller's: log it with its stack. */
  unexpected: boolean;
}

/**
 * What an error answers, in Prescient's shape, the OCI spec's or OTLP's (`req`: the request, whose
 * content type OTLP answers in). A server-side error (isServerSide) answers with the request id
 * only: its message may hold paths or internals, so it goes to the log, never to the caller.
 */
export function errorResponse(e: unknown, shape: ErrorShape, requestId: string, req?: IncomingMessage): ErrorResponse {
  const { status, headers, body, unexpected } = shapedError(e, shape, requestId, req);
  if (Buffer.isBuffer(body)) return { status, headers, payload: body, unexpected };
  return { status, headers: { ...headers, 'content-type': 'application/json' }, payload: Buffer.from(JSON.stringify(body)), unexpected };
}

function shapedError(e: unknown, shape: ErrorShape, requestId: string, req: IncomingMessage | undefined): { status: number; headers: Record<string, string>; body: unknown; unexpected: boolean } {
  const err = toAppError(e);
  const unexpected = isServerSide(err);
  const headers: Record<string, string> = {};
  const challenge = err.details?.['wwwAuthenticate'];
  if (typeof challenge === 'string') headers['www-authenticate'] = challenge;
  const retryAfter = retryAfterOf(err);
  if (retryAfter !== undefined) headers['retry-after'] = String(retryAfter);
  const message = unexpected ? serverSideMessage(requestId) : err.message;
  // A broken file of the operator's is a 500, not the caller's 400; a failed tool stays a 502.
  let status = err instanceof MethodNotAllowedError ? 405 : err instanceof ConfigFileError ? 500 : httpStatusByCode[err.code];
  if (shape === 'otlp') {
    // OTLP/HTTP: the request's encoding; a JSON one, or one of no OTLP type (a 415), gets JSON.
    const metadata: Record<string, string> = { requestId };
    if (!unexpected) for (const [k, v] of Object.entries(err.details ?? {})) if (k !== 'wwwAuthenticate' && (typeof v === 'string' || typeof v === 'number')) metadata[k] = String(v);
    const body = otlpStatus({ httpStatus: status, message, reason: unexpected ? 'INTERNAL' : err.code, metadata, ...(retryAfter !== undefined ? { retryAfterSeconds: retryAfter } : {}) });
    const protobuf = req !== undefined && (otlpProtobufMediaTypes as readonly string[]).includes(mediaType(req));
    if (protobuf) return { status, headers: { ...headers, 'content-type': 'application/x-protobuf' }, body: encodeOtlpStatus(body), unexpected };
    return { status, headers, body, unexpected };
  }
  if (shape === 'prescient') {
    const { wwwAuthenticate: _w, ...details } = err.details ?? {};
    const body = { error: err instanceof MethodNotAllowedError ? 'METHOD_NOT_ALLOWED' : err instanceof ConfigFileError ? 'INTERNAL' : err.code, message, ...(!unexpected && Object.keys(details).length > 0 ? { details } : {}), requestId };
    return { status, headers, body, unexpected };
  }
  const code: OciErrorCode | 'UNKNOWN' = err instanceof OciError ? err.ociCode : ociFallbackCode(err);
  if (code === 'RANGE_INVALID') status = 416;
  // A client that went away mid-upload: distribution answers 400, there is no 499 in the spec.
  if (err.code === 'ABORTED') status = 400;
  const { oci: _oci, wwwAuthenticate: _w, ...detail } = unexpected ? {} : (err.details ?? {});
  return { status, headers, body: { errors: [{ code, message, detail }] }, unexpected };
}

/** Seconds a client should wait before sending the same request again, for the errors that are worth retrying. */
function retryAfterOf(err: AppError): number | undefined {
  if (err.code === 'UNAVAILABLE') return 5;
  const s = err.details?.['retryAfterSeconds'];
  return err.code === 'TOO_MANY_REQUESTS' && typeof s === 'number' ? s : undefined;
}

function ociFallbackCode(err: AppError): OciErrorCode | 'UNKNOWN' {
  switch (err.code) {
    case 'UNAUTHORIZED':
      return 'UNAUTHORIZED';
    case 'FORBIDDEN':
      return 'DENIED';
    case 'NOT_FOUND':
      return 'NAME_UNKNOWN';
    case 'VALIDATION':
      return err.details?.['field'] === 'reference' ? 'MANIFEST_INVALID' : 'NAME_INVALID';
    case 'PAYLOAD_TOO_LARGE':
      return 'SIZE_INVALID';
    case 'UNSUPPORTED':
      return 'UNSUPPORTED';
    case 'TOO_MANY_REQUESTS':
      return 'TOOMANYREQUESTS';
    default:
      return 'UNKNOWN';
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(res.req?.method === 'HEAD' ? undefined : text);
}
