/**
 * One error base for the whole project. Every failure a user can meet is an AppError with a
 * stable `code`; the CLI and the HTTP server map codes to exit statuses and HTTP statuses in
 * one place each (cli/main.ts, server/http-error.ts), so no caller invents its own mapping.
 */
export const errorCodes = [
  'VALIDATION', // bad input: a field, a file, a flag; `field` names the path
  'NOT_FOUND',
  'CONFLICT',
  'UNSAFE_PATH', // a guest path that would leave the guest root
  'EXTERNAL_TOOL', // qemu-img, mount, chroot… failed; message carries the tool's own words
  'TIMEOUT',
  'ABORTED',
  'UNSUPPORTED',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'UNAVAILABLE', // a service Prescient depends on (its database, the external registry) does not answer: retry later
  'TOO_MANY_REQUESTS', // this caller (or everyone together) has as much in flight as the server takes: retry after `retryAfterSeconds`
  'INTERNAL',
] as const;
export type ErrorCode = (typeof errorCodes)[number];

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options.details;
  }
  toJSON(): Record<string, unknown> {
    return { error: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}

/** Bad input. `field` is the path of the offending field (`resources.memoryMiB`, `--base`, `line 12`). */
export class ValidationError extends AppError {
  readonly field: string;
  constructor(field: string, message: string, details?: Record<string, unknown>) {
    super('VALIDATION', `${field}: ${message}`, { details: { field, ...details } });
    this.field = field;
  }
}

/**
 * A file the operator keeps on this machine (policy.json, identify.json, config.json, a keyring)
 * is wrong. The CLI shows it like any bad input; a server answers its callers without it (500,
 * the request id), since the path and the fix are the operator's, and logs it whole.
 */
export class ConfigFileError extends ValidationError {
  readonly file: string;
  constructor(file: string, field: string, message: string, details?: Record<string, unknown>) {
    super(field, message, { ...details, source: file });
    this.file = file;
  }
}

export class NotFoundError extends AppError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('NOT_FOUND', message, details ? { details } : {});
  }
}

/** The caller may not do this here: it needs root, or a file's permissions forbid it. `fix` says what to do. */
export class PermissionDeniedError extends AppError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('FORBIDDEN', message, details ? { details } : {});
  }
}

export class ConflictError extends AppError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('CONFLICT', message, details ? { details } : {});
  }
}

export class UnsafePathError extends AppError {
  constructor(path: string, reason: string) {
    super('UNSAFE_PATH', `unsafe guest path ${JSON.stringify(path)}: ${reason}`, { details: { path } });
  }
}

/** A tool we shell out to failed; its own stderr is kept so the user sees the real reason. */
export class ExternalToolError extends AppError {
  readonly tool: string;
  readonly exitCode: number | null;
  readonly stderr: string;
  constructor(tool: string, args: readonly string[], exitCode: number | null, stderr: string) {
    const said = stderr.trim().split('\n').slice(-6).join('\n');
    super('EXTERNAL_TOOL', `${tool} failed (exit ${exitCode ?? 'signal'}): ${said || '(no output)'}`, {
      details: { tool, args: [...args], exitCode },
    });
    this.tool = tool;
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

/**
 * Refused for load, not for what was sent: the same request succeeds later. `retryAfterSeconds`
 * becomes the answer's Retry-After (and, on OTLP routes, a google.rpc.RetryInfo).
 */
export class TooManyRequestsError extends AppError {
  constructor(message: string, details: { rule: string; retryAfterSeconds: number } & Record<string, unknown>) {
    super('TOO_MANY_REQUESTS', message, { details });
  }
}

export class TimeoutError extends AppError {
  constructor(what: string, ms: number) {
    super('TIMEOUT', `${what} timed out after ${ms} ms`);
  }
}

export class AbortedError extends AppError {
  constructor(what: string) {
    super('ABORTED', `${what} was aborted`);
  }
}

export class UnsupportedError extends AppError {
  constructor(message: string) {
    super('UNSUPPORTED', message);
  }
}

/**
 * A write that found the disk full (ENOSPC, EDQUOT). Writers remove what they had half-written;
 * what remains for the operator is space. UNAVAILABLE: the same request succeeds once there is.
 * The path is named only where the operator reads it (the CLI), not in an HTTP answer.
 */
export class DiskFullError extends AppError {
  constructor(cause: unknown, options: { path?: string } = {}) {
    super('UNAVAILABLE', `no space left on the device${options.path ? ` writing ${options.path}` : ''}: free some space (prescient images gc, prescient layers gc) and try again`, { cause });
  }
}

export function isDiskFull(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL';
}

/**
 * SQLite's "database is locked": another process (serve writing a large telemetry batch, an
 * ingest, a revoke) held a store's write lock past the wait (busy_timeout). Nothing was written;
 * the same call succeeds later, so it is UNAVAILABLE (a 503 clients retry), not a bug.
 */
export class StoreBusyError extends AppError {
  constructor(cause: unknown) {
    super('UNAVAILABLE', 'the telemetry store is busy: another process (serve, an ingest) held its write lock longer than this one waits; nothing was written, try again', { cause });
  }
}

function isStoreBusy(e: unknown): boolean {
  const code = (e as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^SQLITE_(BUSY|LOCKED)(_|$)/.test(code);
}

export function isAppError(e: unknown): e is AppError {
  return e instanceof AppError;
}

/** Any thrown value as an AppError, keeping the original as the cause. */
export function toAppError(e: unknown): AppError {
  if (e instanceof AppError) return e;
  if (isDiskFull(e)) return new DiskFullError(e);
  if (isStoreBusy(e)) return new StoreBusyError(e);
  const message = e instanceof Error ? e.message : String(e);
  return new AppError('INTERNAL', message, { cause: e });
}

/**
 * An error about a working copy (an import's temporary file, verify's overlay) as one about the
 * file the user gave: that is the path they know. Other errors pass as they are.
 */
export function namingFileAs(e: unknown, workingCopy: string, given: string): unknown {
  if (!(e instanceof AppError) || !e.message.includes(workingCopy)) return e;
  return new AppError(e.code, e.message.replaceAll(workingCopy, given), { cause: e, ...(e.details ? { details: e.details } : {}) });
}

/**
 * A failure of this machine's own making: a bug, a tool it ran (qemu-img's words name host
 * files), a broken file of the operator's. A server tells its callers the request id only.
 */
export function isServerSide(err: AppError): boolean {
  return isServerSideCode(err.code) || err instanceof ConfigFileError;
}

/** The codes that are server-side whatever the error (a record that kept the code only). */
export function isServerSideCode(code: string): boolean {
  return code === 'INTERNAL' || code === 'EXTERNAL_TOOL';
}

/** What a caller is told of a server-side failure: the request id, by which the log has the rest. */
export function serverSideMessage(requestId: string | undefined): string {
  return requestId ? `internal error (request ${requestId})` : 'internal error (the server log has it)';
}
