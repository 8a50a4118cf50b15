import type { ServerResponse } from 'node:http';
import { toAppError, type ErrorCode } from '../core/errors.js';

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

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendError(res: ServerResponse, e: unknown): void {
  const err = toAppError(e);
  if (res.headersSent) {
    res.destroy(err);
    return;
  }
  const challenge = err.details?.['wwwAuthenticate'];
  sendJson(res, httpStatusByCode[err.code], err.toJSON(), typeof challenge === 'string' ? { 'www-authenticate': challenge } : {});
}
