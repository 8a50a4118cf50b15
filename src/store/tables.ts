import { resourceFields, type ResourceField } from '../contracts/telemetry-event.js';
import type { ResourceRollup } from './store.js';
import type { AnonymisedResourceColumns } from '../contracts/resource-columns.js';

/**
 * The tables every adapter keeps (sqlite/migrations.ts, postgres/migrations.ts): the same names
 * and columns, so that a query reads the same on both and a row can be moved from one to the other.
 */
export const resourceColumns: Record<ResourceField, string> = {
  cpuCores: 'cpu_cores',
  cpuPercent: 'cpu_percent',
  memoryBytes: 'memory_bytes',
  memoryTotalBytes: 'memory_total_bytes',
  diskReadBps: 'disk_read_bps',
  diskWriteBps: 'disk_write_bps',
  netInBps: 'net_in_bps',
  netOutBps: 'net_out_bps',
};

/** Column names of resourceFields, in that order. */
export const resourceColumnNames: readonly string[] = resourceFields.map((f) => resourceColumns[f]);

/** Raw event tables, one per kind of event (sequence_events holds launches and commands). */
export const rawTables = ['resource_samples', 'sequence_events', 'network_flows', 'data_accesses'] as const;

/** A rollup as both adapters read it: per field `<col>_n`, `<col>_sum` and `<col>_max` of one bucket. */
export function rollupOfRow(row: Record<string, number | null>): ResourceRollup {
  const out: ResourceRollup = { bucketMs: row['bucket_ms']!, mean: {}, max: {}, samples: {} };
  resourceFields.forEach((f: ResourceField, i) => {
    const c = resourceColumnNames[i]!;
    const n = row[`${c}_n`] ?? 0;
    if (n > 0) {
      out.samples[f] = n;
      out.mean[f] = row[`${c}_sum`]! / n;
      out.max[f] = row[`${c}_max`]!;
    }
  });
  return out;
}

/** First and last time of each subject entry's rows in a column batch (+∞/−∞: the entry has no row). */
export function columnSpans(b: Pick<AnonymisedResourceColumns, 'rows' | 'time' | 'subjectOf' | 'subjects'>): { first: Float64Array; last: Float64Array } {
  const first = new Float64Array(b.subjects.length).fill(Number.POSITIVE_INFINITY);
  const last = new Float64Array(b.subjects.length).fill(Number.NEGATIVE_INFINITY);
  for (let i = 0; i < b.rows; i++) {
    const s = b.subjectOf === undefined ? 0 : b.subjectOf[i]!;
    const t = b.time[i]!;
    if (t < first[s]!) first[s] = t;
    if (t > last[s]!) last[s] = t;
  }
  return { first, last };
}
