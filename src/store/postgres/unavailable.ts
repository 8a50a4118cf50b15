import { AppError } from '../../core/errors.js';

/**
 * The database not answering — refused, cut, timed out, shutting down, full of connections — as
 * opposed to a query that is wrong. Only the first is UNAVAILABLE (503: retry later); the
 * second stays INTERNAL, a bug to report. One rule for every pool (the store's, the queue's).
 */
const socketCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE']);
/** SQLSTATE: class 08 (connection exception); admin/crash shutdown, starting up; too many connections. */
const sqlStates = new Set(['57P01', '57P02', '57P03', '53300']);
/** pg's and pg-pool's own words for a connection that failed or timed out (they carry no code). */
const driverMessages = /Connection terminated|timeout exceeded when trying to connect|Query read timeout|not queryable|connection timeout/i;

export function isUnavailable(e: unknown): boolean {
  if (!(e instanceof Error) || e instanceof AppError) return false;
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && (socketCodes.has(code) || sqlStates.has(code) || /^08/.test(code))) return true;
  return driverMessages.test(e.message);
}

/** host:port/database of a postgres:// URL: which database, never its user or password. */
export function databaseOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.host}${u.pathname}`;
  } catch {
    return '(unparsable URL)';
  }
}

export class DatabaseUnavailableError extends AppError {
  constructor(what: string, url: string, cause: unknown) {
    const database = databaseOf(url);
    const said = cause instanceof Error ? cause.message : String(cause);
    super('UNAVAILABLE', `${what} at ${database} is unavailable (${said}): start PostgreSQL, or check the URL and the network`, { cause, details: { database } });
  }
}

/**
 * Bounds on every call, so that a database that stops answering (a hung host, a partition) fails
 * a request instead of holding it forever: pg's defaults wait without end.
 */
export interface DatabaseTimeouts {
  /** To open a connection (pg-pool's connectionTimeoutMillis). */
  connectTimeoutMs?: number;
  /** For one query's answer (pg's client-side query_timeout: it fires when the server is silent, not only slow). */
  queryTimeoutMs?: number;
}

export const defaultTimeouts = { connectTimeoutMs: 10_000, queryTimeoutMs: 60_000 } as const;

/** The pg.Pool options of those bounds. */
export function poolTimeouts(t: DatabaseTimeouts = {}): { connectionTimeoutMillis: number; query_timeout: number } {
  return { connectionTimeoutMillis: t.connectTimeoutMs ?? defaultTimeouts.connectTimeoutMs, query_timeout: t.queryTimeoutMs ?? defaultTimeouts.queryTimeoutMs };
}
