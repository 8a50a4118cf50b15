import { AppError, type ErrorCode } from '../core/errors.js';

/** Error codes of the OCI distribution spec; the API answers `{errors:[{code,message,detail}]}`. */
export const ociErrorCodes = [
  'BLOB_UNKNOWN',
  'BLOB_UPLOAD_INVALID',
  'BLOB_UPLOAD_UNKNOWN',
  'DIGEST_INVALID',
  'MANIFEST_BLOB_UNKNOWN',
  'MANIFEST_INVALID',
  'MANIFEST_UNKNOWN',
  'NAME_INVALID',
  'NAME_UNKNOWN',
  'SIZE_INVALID',
  'UNAUTHORIZED',
  'DENIED',
  'UNSUPPORTED',
  'TOOMANYREQUESTS',
  'RANGE_INVALID',
  'PAGINATION_NUMBER_INVALID', // distribution's code for a bad tags/list `n` (answered 400)
] as const;
export type OciErrorCode = (typeof ociErrorCodes)[number];

const appCodeOf: Record<OciErrorCode, ErrorCode> = {
  BLOB_UNKNOWN: 'NOT_FOUND',
  BLOB_UPLOAD_INVALID: 'VALIDATION',
  BLOB_UPLOAD_UNKNOWN: 'NOT_FOUND',
  DIGEST_INVALID: 'VALIDATION',
  MANIFEST_BLOB_UNKNOWN: 'VALIDATION',
  MANIFEST_INVALID: 'VALIDATION',
  MANIFEST_UNKNOWN: 'NOT_FOUND',
  NAME_INVALID: 'VALIDATION',
  NAME_UNKNOWN: 'NOT_FOUND',
  SIZE_INVALID: 'VALIDATION',
  UNAUTHORIZED: 'UNAUTHORIZED',
  DENIED: 'FORBIDDEN',
  UNSUPPORTED: 'UNSUPPORTED',
  TOOMANYREQUESTS: 'CONFLICT',
  RANGE_INVALID: 'VALIDATION',
  PAGINATION_NUMBER_INVALID: 'VALIDATION',
};

/**
 * An AppError that also carries its OCI code. Its app code maps to the HTTP status in the one
 * place (server/http-error.ts); the OCI routes add the spec's error body. The CLI sees an
 * ordinary AppError (NOT_FOUND, VALIDATION…), so no new app code was needed.
 */
export class OciError extends AppError {
  readonly ociCode: OciErrorCode;
  constructor(ociCode: OciErrorCode, message: string, details?: Record<string, unknown>) {
    super(appCodeOf[ociCode], message, { details: { oci: ociCode, ...details } });
    this.ociCode = ociCode;
  }
}
