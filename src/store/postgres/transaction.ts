import type pg from 'pg';
import { isUnavailable } from './unavailable.js';

/** What a store's parts query through: a pooled client inside a transaction, or the pool. */
export type Queryable = Pick<pg.PoolClient, 'query'>;

/** Deadlock and serialization failure: the transaction did nothing and may simply run again. */
const retryable = new Set(['40P01', '40001']);

/**
 * Runs `work` in one transaction (READ COMMITTED: row locks, not snapshots, keep concurrent
 * writers apart, see writes.ts), again from the start if PostgreSQL chose it as a deadlock's victim.
 */
export async function inTransaction<T>(pool: pg.Pool, work: (c: Queryable) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const c = await pool.connect();
    let broken = false;
    try {
      await c.query('BEGIN');
      const out = await work(c);
      await c.query('COMMIT');
      return out;
    } catch (e) {
      // A connection that is cut or silent cannot roll back (it would wait out another timeout): closed, not reused.
      if (isUnavailable(e)) broken = true;
      else await c.query('ROLLBACK').catch(() => (broken = true));
      if (attempt < 5 && retryable.has((e as { code?: string }).code ?? '')) continue;
      throw e;
    } finally {
      c.release(broken); // a connection that cannot roll back is closed, not reused
    }
  }
}
