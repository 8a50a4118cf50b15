import type { GuestActivity, GuestImageSpan, TimeRange } from '../store.js';
import { timeBounds } from '../time-range.js';
import { accessColumns, flowColumns } from './history.js';
import type { Queryable } from './transaction.js';

/** Image spans of one write, upserted once per (subject, image) in key order (no deadlock between writers). */
export async function upsertGuestImages(c: Queryable, spans: readonly { sid: number; image: string; first: number; last: number }[]): Promise<void> {
  if (spans.length === 0) return;
  await c.query(
    `INSERT INTO guest_images (subject_id, image, first_ms, last_ms)
     SELECT s, i, min(f), max(l) FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[]) AS t (s, i, f, l) GROUP BY s, i ORDER BY s, i COLLATE "C"
     ON CONFLICT (subject_id, image) DO UPDATE SET first_ms = least(guest_images.first_ms, excluded.first_ms), last_ms = greatest(guest_images.last_ms, excluded.last_ms)`,
    [spans.map((s) => s.sid), spans.map((s) => s.image), spans.map((s) => s.first), spans.map((s) => s.last)],
  );
}

export async function guestImages(c: Queryable, subjectId: number): Promise<GuestImageSpan[]> {
  const { rows } = await c.query<GuestImageSpan>(
    'SELECT image, first_ms AS "firstMs", last_ms AS "lastMs" FROM guest_images WHERE subject_id = $1 ORDER BY first_ms, image',
    [subjectId],
  );
  return rows;
}

export async function guestActivity(c: Queryable, subjectId: number, r: TimeRange | undefined): Promise<GuestActivity> {
  const params = [subjectId, ...timeBounds(r)];
  const where = `subject_id = $1 AND source = 'agent' AND time_ms >= $2 AND time_ms < $3`;
  const [samples, programs, flows, accesses] = await Promise.all([
    c.query<GuestActivity['samples'][number]>(
      `SELECT time_ms AS time, cpu_cores AS "cpuCores", cpu_percent AS "cpuPercent", memory_bytes AS "memoryBytes", memory_total_bytes AS "memoryTotalBytes"
       FROM resource_samples WHERE ${where} ORDER BY time_ms`,
      params,
    ),
    c.query<GuestActivity['programs'][number]>(
      `SELECT kind, name, outcome, count(*) AS count, max(time_ms) AS "lastMs" FROM sequence_events
       WHERE ${where} GROUP BY kind, name, outcome ORDER BY name, kind, outcome NULLS FIRST`,
      params,
    ),
    c.query<GuestActivity['flows'][number]>(
      `SELECT ${flowColumns} FROM network_flows WHERE ${where}
       GROUP BY direction, protocol, port, remote, outcome ORDER BY port, direction, outcome NULLS FIRST, remote`,
      params,
    ),
    c.query<GuestActivity['accesses'][number]>(
      `SELECT ${accessColumns} FROM data_accesses WHERE ${where} GROUP BY target, op ORDER BY target, op NULLS FIRST`,
      params,
    ),
  ]);
  return { samples: samples.rows, programs: programs.rows, flows: flows.rows, accesses: accesses.rows };
}
