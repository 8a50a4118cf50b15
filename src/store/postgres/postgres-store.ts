import pg from 'pg';
import { z } from 'zod';
import { AppError } from '../../core/errors.js';
import { firstIssueError } from '../../core/field-issues.js';
import type { TelemetryStore, WriteResult } from '../store.js';
import { consentedPseudonyms, grantConsent, hasConsent, revokeConsent } from './consent.js';
import { guestActivity, guestImages } from './guest.js';
import { dataAccesses, flows, sequence } from './history.js';
import { counts, prune } from './maintenance.js';
import { migrate } from './migrations.js';
import { countRejections, rejections } from './rejections.js';
import { readRollups } from './rollups.js';
import { listSubjects, subjectIdOf, subjectInfo } from './subjects.js';
import { inTransaction } from './transaction.js';
import { DatabaseUnavailableError, isUnavailable, poolTimeouts, type DatabaseTimeouts } from './unavailable.js';
import { writeGroup, type PendingWrite } from './writes.js';

export interface PostgresStoreOptions extends DatabaseTimeouts {
  /** postgres://user[:password]@host[:port]/database[?sslmode=…] (libpq's URL form). */
  url: string;
  /** Connections this process keeps open (default 10); every worker has its own pool. */
  maxConnections?: number;
}

export const postgresUrlSchema = z
  .string()
  .refine((u) => /^postgres(ql)?:\/\/[^/]/.test(u) && URL.canParse(u), 'expected postgres://user@host:port/database');
const optionsSchema = z.object({
  url: postgresUrlSchema,
  maxConnections: z.number().int().min(1).max(1000).optional(),
  connectTimeoutMs: z.number().int().min(1).optional(),
  queryTimeoutMs: z.number().int().min(1).optional(),
});

/** A query the database refused (not an outage): a bug of ours. Its message names the store, never the URL (it may hold a password). */
export class StoreFailedError extends AppError {
  constructor(cause: unknown) {
    super('INTERNAL', `the PostgreSQL store failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

// bigint (count(*), *_ms) and numeric come back as strings by default; every one of them here is
// far below 2^53 (epoch ms, row counts), and the contract speaks numbers.
const int8 = 20;
const numeric = 1700;
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === int8 || oid === numeric ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format ?? 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

/**
 * The shared store: one PostgreSQL database for every API server and worker, migrated on open
 * (migrations.ts, under an advisory lock). Returns at once like openSqliteStore; the connection
 * and the migrations run in the background and every call waits for them (and fails with their
 * error, the next call trying again). Same contract as SQLite (store-contract.ts), tested against a real server.
 */
export function openPostgresStore(options: PostgresStoreOptions): TelemetryStore {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) throw firstIssueError(parsed.error, { root: 'store' });
  const pool = new pg.Pool({ connectionString: options.url, max: options.maxConnections ?? 10, types, application_name: 'prescient', ...poolTimeouts(options) });
  // An idle connection the server drops (restart, failover) is an 'error' event: without a
  // listener it would end the process; the next query simply takes a new connection.
  pool.on('error', () => undefined);
  // Migrated once; a failed attempt (the database down when the process starts) is forgotten,
  // so the next call tries again and the store recovers when the database is back.
  let migrated: Promise<void> | undefined;
  const ready = (): Promise<void> =>
    (migrated ??= migrate(pool).catch((e: unknown) => {
      migrated = undefined;
      throw e;
    }));
  ready().catch(() => undefined); // started now; surfaced by the first call, never as an unhandled rejection
  const inFlight = new Set<Promise<unknown>>();
  let closed = false;
  const run = <T>(work: () => Promise<T>): Promise<T> => {
    const p = ready().then(work).catch((e: unknown) => {
      if (e instanceof AppError) throw e;
      throw isUnavailable(e) ? new DatabaseUnavailableError('the PostgreSQL store', options.url, e) : new StoreFailedError(e);
    });
    inFlight.add(p);
    const done = () => void inFlight.delete(p);
    p.then(done, done);
    return p;
  };
  const call = <T>(work: () => Promise<T>): Promise<T> =>
    closed ? Promise.reject(new AppError('CONFLICT', 'the telemetry store is closed')) : run(work);
  // Group commit: writes that arrive while one transaction of writes runs wait for it and then
  // share the next. Concurrent requests of one server mostly touch the same subjects, whose row
  // locks would make their transactions take turns anyway: one transaction for all of them does
  // the same work with a fraction of the round trips and commits.
  let queue: (PendingWrite & { resolve: (r: WriteResult) => void; reject: (e: unknown) => void })[] = [];
  /** The group being written, if any; it starts the next when it ends. */
  let writing: Promise<void> | undefined;
  const pump = (): void => {
    if (writing !== undefined || queue.length === 0) return;
    const group = queue;
    queue = [];
    writing = run(() => inTransaction(pool, (c) => writeGroup(c, group))).then(
      (results) => group.forEach((p, i) => p.resolve(results[i]!)),
      (e: unknown) => group.forEach((p) => p.reject(e)),
    );
    void writing.then(() => {
      writing = undefined;
      pump();
    });
  };
  const enqueue = (w: PendingWrite): Promise<WriteResult> =>
    new Promise<WriteResult>((resolve, reject) => {
      if (closed) return reject(new AppError('CONFLICT', 'the telemetry store is closed'));
      queue.push({ ...w, resolve, reject });
      pump();
    });
  /** Reads of one subject: nothing when the pseudonym is unknown. */
  const ofSubject = <T>(subject: string, none: T, read: (id: number) => Promise<T>): Promise<T> =>
    call(async () => {
      const id = await subjectIdOf(pool, subject);
      return id === undefined ? none : read(id);
    });

  return {
    write: (events) => (events.length === 0 ? Promise.resolve({ written: 0, alreadyStored: 0, refused: [] }) : enqueue({ events })),
    writeResourceColumns: (columns) => (columns.rows === 0 ? Promise.resolve({ written: 0, alreadyStored: 0, refused: [] }) : enqueue({ columns })),
    listSubjects: (filter = {}) => call(() => listSubjects(pool, filter)),
    subject: (pseudonym) => call(() => subjectInfo(pool, pseudonym)),
    rollups: (subject, r) => ofSubject(subject, [], (id) => readRollups(pool, id, r)),
    sequence: (subject, o = {}) => ofSubject(subject, [], (id) => sequence(pool, id, o)),
    flows: (subject, r) => ofSubject(subject, [], (id) => flows(pool, id, r)),
    dataAccesses: (subject, r) => ofSubject(subject, [], (id) => dataAccesses(pool, id, r)),
    guestImages: (subject) => ofSubject(subject, [], (id) => guestImages(pool, id)),
    guestActivity: (subject, r) => ofSubject(subject, { samples: [], programs: [], flows: [], accesses: [] }, (id) => guestActivity(pool, id, r)),
    grantConsent: (pseudonyms, atMs) => call(() => grantConsent(pool, pseudonyms, atMs)),
    revokeConsent: (pseudonyms) => call(() => inTransaction(pool, (c) => revokeConsent(c, pseudonyms))),
    consentedPseudonyms: () => call(() => consentedPseudonyms(pool)),
    hasConsent: (pseudonyms) => call(() => hasConsent(pool, pseudonyms)),
    countRejections: (c) => call(() => countRejections(pool, c)),
    rejections: () => call(() => rejections(pool)),
    prune: (policy) => call(() => inTransaction(pool, (c) => prune(c, policy))),
    counts: () => call(() => counts(pool)),
    ping: () => call(async () => void (await pool.query('SELECT 1'))),
    async close() {
      if (closed) return;
      closed = true;
      // Writes accepted before the close are still written: each group starts the next.
      while (writing !== undefined) await writing.then(() => new Promise((r) => setImmediate(r)));
      await Promise.allSettled([...inFlight]);
      await pool.end();
    },
  };
}
