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
}

export const emptySamples = (): SampleColumns => ({ subjectId: [], source: [], time: [], values: cols.map(() => []) });

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
export async function insertSamples(c: Queryable, s: SampleColumns): Promise<void> {
  if (s.time.length === 0) return;
  await c.query(
    `WITH s AS (
       INSERT INTO resource_samples (subject_id, source, time_ms, ${cols.join(', ')})
       SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], ${cols.map((_, i) => `$${i + 4}::float8[]`).join(', ')})
       RETURNING *
     )
     INSERT INTO resource_rollups (subject_id, bucket_ms, source, ${cols.map((c) => `${c}_n, ${c}_sum, ${c}_max`).join(', ')})
     SELECT subject_id, time_ms / ${rollupBucketMs} * ${rollupBucketMs}, source, ${cols.map((c) => `count(${c}), coalesce(sum(${c}), 0), max(${c})`).join(', ')}
     FROM s WHERE time_ms >= 0 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
     ON CONFLICT (subject_id, bucket_ms, source) DO UPDATE SET
       ${merge}`,
    [arrayLiteral(s.subjectId), s.source, arrayLiteral(s.time), ...s.values.map(arrayLiteral)],
  );
}

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
