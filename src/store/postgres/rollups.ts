import { rollupBucketMs, type ResourceRollup, type TimeRange } from '../store.js';
import { resourceColumnNames as cols, rollupOfRow } from '../tables.js';
import { timeBounds } from '../time-range.js';
import type { Queryable } from './transaction.js';

/** Resource samples of one write, column-wise (the shape `unnest` takes). */
export interface SampleColumns {
  subjectId: number[];
  source: string[];
  time: number[];
  /** One array per resource column, in resourceFields order; null = field absent. */
  values: (number | null)[][];
  /** Each sample's sampleDigest (../event-digest.ts). */
  digest: number[];
}

export const emptySamples = (): SampleColumns => ({ subjectId: [], source: [], time: [], values: cols.map(() => []), digest: [] });

const merge = cols
  .map((c) => `${c}_n = resource_rollups.${c}_n + excluded.${c}_n, ${c}_sum = resource_rollups.${c}_sum + excluded.${c}_sum, ${c}_max = greatest(resource_rollups.${c}_max, excluded.${c}_max)`)
  .join(',\n       ');

/**
 * Inserts the raw samples and adds them to their rollup rows in one statement, inside the
 * write's transaction: the rollups can never disagree with the raw rows, and every read sees
 * them at once (no catch-up, unlike SQLite's rollup thread). Rows are upserted in key order and
 * each is updated under its row lock (`ON CONFLICT DO UPDATE` re-reads a row a concurrent writer
 * committed), so two workers adding to one bucket add up, never overwrite each other.
 * Negative times stay raw, as in SQLite (the edges refuse them anyway).
 */
export async function insertSamples(c: Queryable, s: SampleColumns, stored?: Set<string>): Promise<number> {
  if (s.time.length === 0) return 0;
  // ON CONFLICT DO NOTHING: a sample already stored (../event-digest.ts) is not returned, so
  // not added to its rollup again; the statement's answer is how many were new (and, given
  // `stored`, the keys of the new ones, added to it).
  const { rows } = await c.query<Record<'stored' | 'key', string>>(
    `WITH s AS (
       INSERT INTO resource_samples (subject_id, source, time_ms, ${cols.join(', ')}, digest)
       SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], ${cols.map((_, i) => `$${i + 4}::float8[]`).join(', ')}, $${cols.length + 4}::bigint[])
       ON CONFLICT DO NOTHING
       RETURNING *
     ), r AS (
       INSERT INTO resource_rollups (subject_id, bucket_ms, source, ${cols.map((c) => `${c}_n, ${c}_sum, ${c}_max`).join(', ')})
       SELECT subject_id, time_ms / ${rollupBucketMs} * ${rollupBucketMs}, source, ${cols.map((c) => `count(${c}), coalesce(sum(${c}), 0), max(${c})`).join(', ')}
       FROM s WHERE time_ms >= 0 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
       ON CONFLICT (subject_id, bucket_ms, source) DO UPDATE SET
         ${merge}
     )
     ${stored === undefined ? 'SELECT count(*) AS stored FROM s' : `SELECT ${storedKeySql} AS key FROM s`}`,
    [arrayLiteral(s.subjectId), s.source, arrayLiteral(s.time), ...s.values.map(arrayLiteral), arrayLiteral(s.digest)],
  );
  if (stored === undefined) return Number(rows[0]!['stored']);
  for (const r of rows) stored.add(r['key']!);
  return rows.length;
}

/** A stored row's key as text, to tell which rows of a statement were new (`stored` sets; writes.ts). */
export const storedKeySql = `subject_id || ':' || time_ms || ':' || digest`;
export const storedKey = (subjectId: number, timeMs: number, digest: number): string => `${subjectId}:${timeMs}:${digest}`;

/**
 * A numeric array as PostgreSQL's array text, built in one pass: node-postgres's generic
 * serialiser escapes and quotes element by element, which cost more than the insert itself for
 * the 10,000-row statements of a bulk import.
 */
function arrayLiteral(xs: readonly (number | null)[]): string {
  let out = '{';
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i];
    out += (i ? ',' : '') + (x === null || x === undefined ? 'NULL' : String(x));
  }
  return out + '}';
}

export async function readRollups(c: Queryable, subjectId: number, r: TimeRange | undefined): Promise<ResourceRollup[]> {
  const { rows } = await c.query<Record<string, number | null>>(
    `SELECT bucket_ms, ${cols.map((c) => `sum(${c}_n)::float8 AS ${c}_n, sum(${c}_sum) AS ${c}_sum, max(${c}_max) AS ${c}_max`).join(', ')}
     FROM resource_rollups WHERE subject_id = $1 AND bucket_ms >= $2 AND bucket_ms < $3 GROUP BY bucket_ms ORDER BY bucket_ms`,
    [subjectId, ...timeBounds(r)],
  );
  return rows.map(rollupOfRow);
}
