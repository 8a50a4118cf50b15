import type { RejectionCount } from '../store.js';
import type { Queryable } from './transaction.js';

/** Adds to the counters: concurrent servers' counts add up (the upsert re-reads a committed row). */
export async function countRejections(c: Queryable, counts: readonly RejectionCount[]): Promise<void> {
  const some = counts.filter((x) => x.count > 0);
  if (some.length === 0) return;
  await c.query(
    `INSERT INTO rejections (reason, source, count)
     SELECT r, s, sum(n) FROM unnest($1::text[], $2::text[], $3::bigint[]) AS t (r, s, n) GROUP BY r, s ORDER BY r COLLATE "C", s COLLATE "C"
     ON CONFLICT (reason, source) DO UPDATE SET count = rejections.count + excluded.count`,
    [some.map((x) => x.reason), some.map((x) => x.source), some.map((x) => x.count)],
  );
}

export async function rejections(c: Queryable): Promise<RejectionCount[]> {
  const { rows } = await c.query<RejectionCount>('SELECT reason, source, count FROM rejections ORDER BY reason, source');
  return rows;
}
