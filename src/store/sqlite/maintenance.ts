import type Database from 'better-sqlite3';
import type { EventKind } from '../../contracts/telemetry-event.js';
import type { StoreCounts } from '../store.js';
import { rawTables } from '../tables.js';

/** Raw samples not yet rolled up must reach their rollups before they go: the caller catches up first. */
export function prune(db: Database.Database, policy: { rawBeforeMs?: number; rollupsBeforeMs?: number }): { rawDeleted: number; rollupsDeleted: number } {
  let rawDeleted = 0;
  let rollupsDeleted = 0;
  db.transaction(() => {
    if (policy.rawBeforeMs !== undefined) {
      for (const t of rawTables) rawDeleted += db.prepare(`DELETE FROM ${t} WHERE time_ms < ?`).run(policy.rawBeforeMs).changes;
    }
    if (policy.rollupsBeforeMs !== undefined) {
      rollupsDeleted = db.prepare('DELETE FROM rollups.resource_rollups WHERE bucket_ms < ?').run(policy.rollupsBeforeMs).changes;
    }
  })();
  return { rawDeleted, rollupsDeleted };
}

export function counts(db: Database.Database): StoreCounts {
  const count = (sql: string): number => (db.prepare(sql).get() as { n: number }).n;
  const byKind: Record<EventKind, number> = {
    resource: count('SELECT count(*) AS n FROM resource_samples'),
    launch: count(`SELECT count(*) AS n FROM sequence_events WHERE kind = 'launch'`),
    command: count(`SELECT count(*) AS n FROM sequence_events WHERE kind = 'command'`),
    flow: count('SELECT count(*) AS n FROM network_flows'),
    access: count('SELECT count(*) AS n FROM data_accesses'),
  };
  return { ...byKind, rollups: count('SELECT count(*) AS n FROM rollups.resource_rollups'), subjects: count('SELECT count(*) AS n FROM subjects') };
}
