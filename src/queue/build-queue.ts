import { setTimeout as delay } from 'node:timers/promises';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import PgBoss from 'pg-boss';
import pg from 'pg';
import { z } from 'zod';
import { AbortedError, AppError, errorCodes, NotFoundError, type ErrorCode } from '../core/errors.js';
import { firstIssue } from '../core/field-issues.js';
import { buildJobResultSchema, buildJobSchema, buildKey, type BuildJob, type BuildJobResult, type BuildState } from './build-job.js';
import type { QueueConfig } from './queue-config.js';
import { DatabaseUnavailableError, isUnavailable, poolTimeouts, type DatabaseTimeouts } from '../store/postgres/unavailable.js';

/** The pg-boss queue of builds and the schema its tables (and the leases beside them) live in. */
const QUEUE = 'builds';
const SCHEMA = 'prescient_queue';
/** Invalid input is not retried: a retry cannot make it valid (the workflow's in-process rule, kept). */
const permanentCodes: readonly ErrorCode[] = ['VALIDATION', 'NOT_FOUND', 'UNSAFE_PATH', 'ABORTED'];

export interface BuildQueueTuning {
  /** A worker renews its lease this often… */
  heartbeatSeconds: number;
  /** …and a lease not renewed for this long is taken back: the job is failed (and so retried) for another worker. */
  leaseSeconds: number;
  /** Attempts after the first, with exponential backoff from `retryDelaySeconds` (pg-boss's retryBackoff). */
  retryLimit: number;
  retryDelaySeconds: number;
  /** The hard cap of one attempt (pg-boss's expiry), whatever the heartbeats say. */
  timeoutSeconds: number;
  /** Bounds on each call to the database (unavailable.ts's defaults): a silent server fails a call, it does not hold it. */
  database?: DatabaseTimeouts;
}

export const defaultTuning: BuildQueueTuning = { heartbeatSeconds: 10, leaseSeconds: 60, retryLimit: 2, retryDelaySeconds: 5, timeoutSeconds: 3 * 3600 };

export interface BuildInfo {
  id: string;
  state: BuildState | 'refused';
  clientId: string;
  repository: string;
  base: string;
  planDigest: string;
  attempts: number;
  createdAt: string;
  startedAt?: string;
  completedAt?: string;
  worker?: string;
  result?: BuildJobResult;
  error?: { code: string; message: string };
}

/** A job a worker holds, with the lease it must keep renewing. */
export interface TakenBuild {
  id: string;
  job: BuildJob;
  attempt: number;
}

const outputSchema = z.looseObject({
  refused: z.strictObject({ code: z.string(), message: z.string() }).optional(),
  code: z.string().optional(),
  message: z.string().optional(),
  value: z.looseObject({ message: z.string().optional() }).optional(),
});

function errorOf(output: unknown): { code: ErrorCode; message: string } {
  const o = outputSchema.safeParse(output ?? {});
  const raw = o.success ? (o.data.refused ?? { code: o.data.code, message: o.data.message ?? o.data.value?.message }) : {};
  const code = (errorCodes as readonly string[]).includes(raw.code ?? '') ? (raw.code as ErrorCode) : 'INTERNAL';
  return { code, message: raw.message ?? 'the build failed' };
}

/**
 * The build queue on PostgreSQL, with pg-boss (chosen over graphile-worker: bench/queue-libraries):
 * a `stately` queue keyed by (repository, base, plan) holds at most one queued and one running job
 * per key, so every API server and worker shares one build of it; failures are retried with
 * exponential backoff; a job can be cancelled. A worker that dies mid-build (SIGKILL, power) stops
 * renewing its lease; any worker or server sweeping finds it stale and fails the job, which pg-boss
 * then retries elsewhere. pg-boss's own expiry stays the hard cap of an attempt.
 */
export class BuildQueue {
  readonly workerId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;

  private constructor(
    private readonly boss: PgBoss,
    private readonly pool: pg.Pool,
    readonly tuning: BuildQueueTuning,
    private readonly url: string,
  ) {}

  /** A failure of the database named as such (UNAVAILABLE: 503, retried by callers), others as they are. */
  private async db<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (e) {
      throw isUnavailable(e) ? new DatabaseUnavailableError('the PostgreSQL build queue', this.url, e) : e;
    }
  }

  static async open(config: QueueConfig, tuning: Partial<BuildQueueTuning> = {}): Promise<BuildQueue> {
    const t = { ...defaultTuning, ...tuning };
    const bounds = poolTimeouts(t.database);
    const boss = new PgBoss({ connectionString: config.url, schema: SCHEMA, max: 4, maintenanceIntervalSeconds: Math.max(1, Math.min(60, t.heartbeatSeconds)), ...bounds });
    const pool = new pg.Pool({ connectionString: config.url, max: 2, ...bounds });
    // A lost connection is reported and retried by pg-boss and pg; it must never end the process.
    boss.on('error', (e) => process.stderr.write(`build queue: ${e.message}\n`));
    pool.on('error', (e) => process.stderr.write(`build queue: ${e.message}\n`));
    try {
      // Several processes opening a new database at once take turns (a session lock, held across
      // pg-boss's own connections): pg-boss locks its install, but two create_queue calls
      // racing on the same queue deadlock each other ('deadlock detected').
      const lock = await pool.connect();
      let broken = false;
      try {
        await lock.query('SELECT pg_advisory_lock(hashtext($1))', [`${SCHEMA}.open`]);
        await boss.start();
        if (!(await boss.getQueue(QUEUE))) await boss.createQueue(QUEUE, { name: QUEUE, policy: 'stately' });
        await lock.query(`CREATE TABLE IF NOT EXISTS ${SCHEMA}.build_leases (job_id uuid PRIMARY KEY, worker text NOT NULL, taken_at timestamptz NOT NULL DEFAULT now(), renewed_at timestamptz NOT NULL DEFAULT now())`);
        await lock.query('SELECT pg_advisory_unlock(hashtext($1))', [`${SCHEMA}.open`]);
      } catch (e) {
        broken = true; // closing the session releases its lock
        throw e;
      } finally {
        lock.release(broken);
      }
    } catch (e) {
      await boss.stop({ graceful: false, wait: false }).catch(() => undefined);
      await pool.end().catch(() => undefined);
      if (isUnavailable(e)) throw new DatabaseUnavailableError('the PostgreSQL build queue', config.url, e);
      throw new AppError('EXTERNAL_TOOL', `build queue: cannot open the PostgreSQL queue at ${redactedUrl(config.url)}: ${(e as Error).message}`, { cause: e });
    }
    return new BuildQueue(boss, pool, t, config.url);
  }

  /** One round trip to the queue's database: whether it answers now (serve's /readyz). */
  async ping(): Promise<void> {
    await this.db(() => this.pool.query('SELECT 1'));
  }

  /** Queue a build, or join the one of the same key already queued or running. */
  async enqueue(job: BuildJob): Promise<{ id: string; joined: boolean }> {
    return this.db(async () => {
      const key = buildKey(job);
      for (let i = 0; i < 5; i++) {
        const existing = await this.pending(key);
        if (existing) return { id: existing, joined: true };
        const id = await this.boss.send(QUEUE, job, {
          singletonKey: key,
          retryLimit: this.tuning.retryLimit,
          retryDelay: this.tuning.retryDelaySeconds,
          retryBackoff: true,
          expireInSeconds: this.tuning.timeoutSeconds,
        });
        if (id) return { id, joined: false };
        // Refused by the key's unique index: someone queued it between our look and our send.
      }
      throw new AppError('CONFLICT', `build queue: could not queue or join the build of ${job.repository}`);
    });
  }

  /** The queued or running job of a key (a `retry` counts: it is the same build, waiting). */
  private async pending(key: string): Promise<string | undefined> {
    const r = await this.pool.query<{ id: string }>(`SELECT id FROM ${SCHEMA}.job WHERE name = $1 AND singleton_key = $2 AND state < 'completed' ORDER BY created_on LIMIT 1`, [QUEUE, key]);
    return r.rows[0]?.id;
  }

  /** Wait for a job's end: its registered version, or its error (ABORTED when cancelled). */
  async wait(id: string, options: { signal?: AbortSignal; pollMs?: number; onState?: (state: BuildState) => void } = {}): Promise<BuildJobResult> {
    let last: string | undefined;
    let downSince: number | undefined;
    for (;;) {
      if (options.signal?.aborted) throw new AbortedError(`build ${id}`);
      let info: BuildInfo | undefined;
      try {
        info = await this.get(id);
        downSince = undefined;
      } catch (e) {
        // The database restarting: the build goes on in its worker, which holds it for a lease
        // without renewing; so does the waiter. Longer than that, the worker has stopped it too.
        if (!(e instanceof AppError && e.code === 'UNAVAILABLE')) throw e;
        downSince ??= Date.now();
        if (Date.now() - downSince > this.tuning.leaseSeconds * 1000) throw e;
        await delay(options.pollMs ?? 500, undefined, options.signal ? { signal: options.signal } : {}).catch(() => undefined);
        continue;
      }
      if (!info) throw new NotFoundError(`build ${id} is not in the queue`, { id });
      if (info.state !== last && info.state !== 'refused') options.onState?.(info.state);
      last = info.state;
      if (info.state === 'completed' && info.result) return info.result;
      if (info.state === 'cancelled') throw new AbortedError(`build ${id} (cancelled)`);
      if (info.state === 'failed' || info.state === 'refused' || info.state === 'completed') {
        const err = info.error ?? { code: 'INTERNAL', message: 'the build ended without a result' };
        throw new AppError(err.code as ErrorCode, `build ${id}: ${err.message}`);
      }
      await delay(options.pollMs ?? 500, undefined, options.signal ? { signal: options.signal } : {}).catch(() => undefined);
    }
  }

  async get(id: string): Promise<BuildInfo | undefined> {
    return this.db(async () => {
      if (!z.uuid().safeParse(id).success) throw new AppError('VALIDATION', `build id: expected a UUID, got ${JSON.stringify(id.slice(0, 80))}`, { details: { field: 'id' } });
      const r = await this.pool.query(`${SELECT_INFO} WHERE j.name = $1 AND j.id = $2`, [QUEUE, id]);
      return r.rows[0] ? infoOf(r.rows[0] as InfoRow) : undefined;
    });
  }

  /**
   * Jobs newest first (all states, or only those given). `refused` is a completed job whose output
   * is a refusal (complete() below), so `completed` lists only the builds that registered a version.
   */
  async list(options: { states?: readonly BuildInfo['state'][]; clientId?: string; limit?: number } = {}): Promise<BuildInfo[]> {
    return this.db(async () => {
      const refusal = `(j.state::text = 'completed' AND coalesce(j.output ? 'refused', false))`;
      const r = await this.pool.query(
        `${SELECT_INFO} WHERE j.name = $1 AND ($2::text[] IS NULL OR (j.state::text = ANY($2) AND NOT ${refusal}) OR ($5 AND ${refusal})) AND ($3::text IS NULL OR j.data->>'clientId' = $3) ORDER BY j.created_on DESC LIMIT $4`,
        [QUEUE, options.states ? options.states.filter((s) => s !== 'refused') : null, options.clientId ?? null, options.limit ?? 100, options.states?.includes('refused') ?? false],
      );
      const rows = r.rows.map((row) => infoOf(row as InfoRow));
      return options.states ? rows.filter((b) => options.states!.includes(b.state)) : rows;
    });
  }

  /** Cancel a queued or running job (its worker notices at its next heartbeat and stops). False if it had already ended. */
  async cancel(id: string): Promise<boolean> {
    return this.db(async () => {
      const before = await this.get(id);
      if (!before) throw new NotFoundError(`build ${id} is not in the queue`, { id });
      if (!['created', 'retry', 'active'].includes(before.state)) return false;
      await this.boss.cancel(QUEUE, id);
      return (await this.get(id))?.state === 'cancelled';
    });
  }

  /** Cancel every queued or running build of a client. */
  async cancelClient(clientId: string): Promise<string[]> {
    return this.db(async () => {
      const pending = await this.list({ states: ['created', 'retry', 'active'], clientId });
      if (pending.length > 0) await this.boss.cancel(QUEUE, pending.map((b) => b.id));
      return pending.map((b) => b.id);
    });
  }

  /** Take the next build (a worker), with a fresh lease; undefined when none is waiting. */
  async take(): Promise<TakenBuild | undefined> {
    return this.db(async () => {
      const [job] = await this.boss.fetch<unknown>(QUEUE, { batchSize: 1, includeMetadata: true });
      if (!job) return undefined;
      await this.pool.query(
        `INSERT INTO ${SCHEMA}.build_leases (job_id, worker) VALUES ($1, $2) ON CONFLICT (job_id) DO UPDATE SET worker = excluded.worker, taken_at = now(), renewed_at = now()`,
        [job.id, this.workerId],
      );
      const parsed = buildJobSchema.safeParse(job.data);
      if (!parsed.success) {
        // Named inside the job's data, an unknown key by itself: what the operator reads in `get`.
        const issue = firstIssue(parsed.error, 'data');
        await this.refuse({ id: job.id, attempt: job.retryCount + 1 } as TakenBuild, new AppError('VALIDATION', `build job ${job.id}: ${issue.path}: ${issue.message}`));
        return this.take();
      }
      return { id: job.id, job: parsed.data, attempt: job.retryCount + 1 };
    });
  }

  /** Renew a lease: `held`, or `cancelled` (stop: nobody wants it), or `lost` (another worker may have it: stop). */
  async renew(taken: Pick<TakenBuild, 'id'>): Promise<'held' | 'lost' | 'cancelled'> {
    return this.db(async () => {
      const r = await this.pool.query(
        `UPDATE ${SCHEMA}.build_leases l SET renewed_at = now() FROM ${SCHEMA}.job j WHERE l.job_id = $1 AND l.worker = $2 AND j.name = $3 AND j.id = l.job_id RETURNING j.state::text AS state`,
        [taken.id, this.workerId, QUEUE],
      );
      const state = (r.rows[0] as { state?: string } | undefined)?.state;
      if (state === 'active') return 'held';
      if (state === 'cancelled') return 'cancelled';
      if (state === undefined) {
        const info = await this.get(taken.id);
        if (info?.state === 'cancelled') return 'cancelled';
      }
      return 'lost';
    });
  }

  /** The build is registered: the job completes with its version (only if this worker still holds it). */
  async complete(taken: Pick<TakenBuild, 'id'>, result: BuildJobResult): Promise<void> {
    return this.db(async () => {
      await this.boss.complete(QUEUE, taken.id, result);
      await this.release(taken);
    });
  }

  /** A failure: retried with backoff while attempts remain, unless retrying cannot help (invalid input). */
  async fail(taken: Pick<TakenBuild, 'id'>, error: AppError): Promise<'retrying' | 'failed'> {
    return this.db(async () => {
      if (permanentCodes.includes(error.code)) {
        await this.refuse(taken, error);
        return 'failed';
      }
      await this.boss.fail(QUEUE, taken.id, { code: error.code, message: error.message });
      await this.release(taken);
      return (await this.get(taken.id))?.state === 'retry' ? 'retrying' : 'failed';
    });
  }

  /** pg-boss has no "fail without retry": a refused build completes with its error, which waiters raise. */
  private async refuse(taken: Pick<TakenBuild, 'id'>, error: AppError): Promise<void> {
    await this.boss.complete(QUEUE, taken.id, { refused: { code: error.code, message: error.message } });
    await this.release(taken);
  }

  /** A worker stopping (SIGTERM) hands its build back: failed now, so that another worker retries it at once. */
  async giveBack(taken: Pick<TakenBuild, 'id'>, reason: string): Promise<void> {
    return this.db(async () => {
      await this.boss.fail(QUEUE, taken.id, { code: 'ABORTED', message: reason });
      await this.release(taken);
    });
  }

  private async release(taken: Pick<TakenBuild, 'id'>): Promise<void> {
    await this.pool.query(`DELETE FROM ${SCHEMA}.build_leases WHERE job_id = $1 AND worker = $2`, [taken.id, this.workerId]);
  }

  /** Take back the builds of workers that stopped renewing their lease: failed, so pg-boss retries them elsewhere. */
  async sweep(): Promise<string[]> {
    return this.db(async () => {
      const r = await this.pool.query<{ job_id: string }>(`DELETE FROM ${SCHEMA}.build_leases WHERE renewed_at < now() - make_interval(secs => $1) RETURNING job_id`, [this.tuning.leaseSeconds]);
      const ids = r.rows.map((row) => row.job_id);
      for (const id of ids) await this.boss.fail(QUEUE, id, { code: 'TIMEOUT', message: `worker lost: no heartbeat for ${this.tuning.leaseSeconds} s` });
      return ids;
    });
  }

  async close(): Promise<void> {
    await this.boss.stop({ graceful: false, wait: true, timeout: 5000 }).catch(() => undefined);
    await this.pool.end().catch(() => undefined);
  }
}

interface InfoRow {
  id: string;
  state: BuildState;
  data: unknown;
  output: unknown;
  retry_count: number;
  created_on: Date;
  started_on: Date | null;
  completed_on: Date | null;
  worker: string | null;
}

const SELECT_INFO = `SELECT j.id, j.state::text AS state, j.data, j.output, j.retry_count, j.created_on, j.started_on, j.completed_on, l.worker
  FROM ${SCHEMA}.job j LEFT JOIN ${SCHEMA}.build_leases l ON l.job_id = j.id`;

function infoOf(row: InfoRow): BuildInfo {
  const data = (row.data ?? {}) as Partial<BuildJob>;
  const result = row.state === 'completed' ? buildJobResultSchema.safeParse(row.output) : undefined;
  const refused = row.state === 'completed' && !result?.success;
  return {
    id: row.id,
    state: refused ? 'refused' : row.state,
    clientId: String(data.clientId ?? ''),
    repository: String(data.repository ?? ''),
    base: String(data.base?.name ?? ''),
    planDigest: String(data.planDigest ?? ''),
    attempts: row.retry_count + (row.started_on ? 1 : 0),
    createdAt: row.created_on.toISOString(),
    ...(row.started_on ? { startedAt: row.started_on.toISOString() } : {}),
    ...(row.completed_on ? { completedAt: row.completed_on.toISOString() } : {}),
    ...(row.worker ? { worker: row.worker } : {}),
    ...(result?.success ? { result: result.data } : {}),
    ...(refused || row.state === 'failed' || row.state === 'retry' ? { error: errorOf(row.output) } : {}),
  };
}

/** A queue URL as it may be printed: without its password. */
export function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

