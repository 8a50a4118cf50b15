import type Database from 'better-sqlite3';
import type { DataAccessSummary, FlowSummary, SequenceItem, SequenceKind, TimeRange } from '../store.js';
import { timeBounds } from '../time-range.js';

export function sequence(db: Database.Database, subjectId: number, options: TimeRange & { kinds?: readonly SequenceKind[]; limit?: number }): SequenceItem[] {
  const kinds = options.kinds ?? ['launch', 'command'];
  // Aliased to SequenceItem's names, as in the PostgreSQL adapter: the rows are the items.
  return db
    .prepare(
      `SELECT kind, time_ms AS time, seq, name, user, session, task, source FROM sequence_events
       WHERE subject_id = ? AND time_ms >= ? AND time_ms < ? AND kind IN (${kinds.map(() => '?').join(', ')})
       ORDER BY time_ms, seq, rowid LIMIT ?`,
    )
    .all(subjectId, ...timeBounds(options), ...kinds, options.limit ?? -1) as SequenceItem[];
}

export const flowColumns = 'direction, protocol, port, remote, outcome, count(*) AS flows, sum(bytes) AS bytes, min(time_ms) AS firstMs, max(time_ms) AS lastMs';
export const accessColumns = 'target, op, count(*) AS accesses, sum(bytes) AS bytes, min(time_ms) AS firstMs, max(time_ms) AS lastMs';

export function flows(db: Database.Database, subjectId: number, r: TimeRange | undefined): FlowSummary[] {
  return db
    .prepare(
      `SELECT ${flowColumns} FROM network_flows WHERE subject_id = ? AND time_ms >= ? AND time_ms < ?
       GROUP BY direction, protocol, port, remote, outcome ORDER BY bytes DESC, remote, outcome`,
    )
    .all(subjectId, ...timeBounds(r)) as FlowSummary[];
}

export function dataAccesses(db: Database.Database, subjectId: number, r: TimeRange | undefined): DataAccessSummary[] {
  return db
    .prepare(
      `SELECT ${accessColumns} FROM data_accesses WHERE subject_id = ? AND time_ms >= ? AND time_ms < ?
       GROUP BY target, op ORDER BY bytes DESC, target`,
    )
    .all(subjectId, ...timeBounds(r)) as DataAccessSummary[];
}
