import type { EventKind } from '../../contracts/telemetry-event.js';
import type { StoreCounts } from '../store.js';
import { rawTables } from '../tables.js';
import type { Queryable } from './transaction.js';

export async function prune(c: Queryable, policy: { rawBeforeMs?: number; rollupsBeforeMs?: number }): Promise<{ rawDeleted: number; rollupsDeleted: number }> {
  let rawDeleted = 0;
  let rollupsDeleted = 0;
  if (policy.rawBeforeMs !== undefined) {
    for (const t of rawTables) rawDeleted += (await c.query(`DELETE FROM ${t} WHERE time_ms < $1`, [policy.rawBeforeMs])).rowCount ?? 0;
  }
  if (policy.rollupsBeforeMs !== undefined) {
    rollupsDeleted = (await c.query('DELETE FROM resource_rollups WHERE bucket_ms < $1', [policy.rollupsBeforeMs])).rowCount ?? 0;
  }
  return { rawDeleted, rollupsDeleted };
}

export async function counts(c: Queryable): Promise<StoreCounts> {
  const { rows } = await c.query<Record<EventKind | 'rollups' | 'subjects', number>>(
    `SELECT (SELECT count(*) FROM resource_samples) AS resource,
            (SELECT count(*) FROM sequence_events WHERE kind = 'launch') AS launch,
            (SELECT count(*) FROM sequence_events WHERE kind = 'command') AS command,
            (SELECT count(*) FROM network_flows) AS flow,
            (SELECT count(*) FROM data_accesses) AS access,
            (SELECT count(*) FROM resource_rollups) AS rollups,
            (SELECT count(*) FROM subjects) AS subjects`,
  );
  const r = rows[0]!;
  return { resource: r.resource, launch: r.launch, command: r.command, flow: r.flow, access: r.access, rollups: r.rollups, subjects: r.subjects };
}
