import type { ServerResponse } from 'node:http';
import { AppError, toAppError, type ErrorCode } from '../core/errors.js';
import { OciError, type OciErrorCode } from '../registry/oci-error.js';
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
  headers: Record<string, string>;
  body: unknown;
  /** True for a failure that is ours, not the caller's: log it with its stack. */
  unexpected: boolean;
}

/**
 * What an error answers, in Prescient's shape or the OCI spec's. An unexpected error (not an
 * AppError, or INTERNAL) answers 500 with the request id only: its message may hold paths or
 * internals, so it goes to the log, never to the caller.
 */
export function errorResponse(e: unknown, shape: ErrorShape, requestId: string): ErrorResponse {
  const err = toAppError(e);
  const unexpected = err.code === 'INTERNAL';
  const headers: Record<string, string> = {};
  const challenge = err.details?.['wwwAuthenticate'];
  if (typeof challenge === 'string') headers['www-authenticate'] = challenge;
  const message = unexpected ? `internal error (request ${requestId})` : err.message;
  let status = err instanceof MethodNotAllowedError ? 405 : httpStatusByCode[err.code];
  if (shape === 'prescient') {
    const { wwwAuthenticate: _w, ...details } = err.details ?? {};
    const body = { error: err instanceof MethodNotAllowedError ? 'METHOD_NOT_ALLOWED' : err.code, message, ...(!unexpected && Object.keys(details).length > 0 ? { details } : {}), requestId };
    return { status, headers, body, unexpected };
  }
  const code: OciErrorCode | 'UNKNOWN' = err instanceof OciError ? err.ociCode : ociFallbackCode(err);
  if (code === 'RANGE_INVALID') status = 416;
  // A client that went away mid-upload: distribution answers 400, there is no 499 in the spec.
  if (err.code === 'ABORTED') status = 400;
  const { oci: _oci, wwwAuthenticate: _w, ...detail } = unexpected ? {} : (err.details ?? {});
  return { status, headers, body: { errors: [{ code, message, detail }] }, unexpected };
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
    default:
      return 'UNKNOWN';
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(res.req?.method === 'HEAD' ? undefined : text);
}
