import type { DataAccessSummary, FlowSummary, SequenceItem, SequenceKind, TimeRange } from '../store.js';
import { timeBounds } from '../time-range.js';
import type { Queryable } from './transaction.js';

// NULLS FIRST throughout: SQLite's order, so both adapters answer alike.

export async function sequence(c: Queryable, subjectId: number, options: TimeRange & { kinds?: readonly SequenceKind[]; limit?: number }): Promise<SequenceItem[]> {
  const { rows } = await c.query<SequenceItem>(
    `SELECT kind, time_ms AS time, seq, name, "user", session, task, source FROM sequence_events
     WHERE subject_id = $1 AND time_ms >= $2 AND time_ms < $3 AND kind = ANY($4::text[])
     ORDER BY time_ms, seq NULLS FIRST, id LIMIT $5`,
    [subjectId, ...timeBounds(options), options.kinds ?? ['launch', 'command'], options.limit ?? null],
  );
  return rows;
}

export const flowColumns = `direction, protocol, port, remote, outcome, count(*) AS flows, sum(bytes) AS bytes, min(time_ms) AS "firstMs", max(time_ms) AS "lastMs"`;
export const accessColumns = `target, op, count(*) AS accesses, sum(bytes) AS bytes, min(time_ms) AS "firstMs", max(time_ms) AS "lastMs"`;

export async function flows(c: Queryable, subjectId: number, r: TimeRange | undefined): Promise<FlowSummary[]> {
  const { rows } = await c.query<FlowSummary>(
    `SELECT ${flowColumns} FROM network_flows WHERE subject_id = $1 AND time_ms >= $2 AND time_ms < $3
     GROUP BY direction, protocol, port, remote, outcome ORDER BY bytes DESC, remote, outcome NULLS FIRST`,
    [subjectId, ...timeBounds(r)],
  );
  return rows;
}

export async function dataAccesses(c: Queryable, subjectId: number, r: TimeRange | undefined): Promise<DataAccessSummary[]> {
  const { rows } = await c.query<DataAccessSummary>(
    `SELECT ${accessColumns} FROM data_accesses WHERE subject_id = $1 AND time_ms >= $2 AND time_ms < $3
     GROUP BY target, op ORDER BY bytes DESC, target`,
    [subjectId, ...timeBounds(r)],
  );
  return rows;
}
