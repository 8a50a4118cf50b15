import type { RejectionCount, TelemetryStore } from '../store/store.js';
import type { Anonymiser } from './anonymise.js';
import type { EventSource, TelemetryEvent } from './event.js';
import type { ResourceColumns } from './resource-columns.js';
import type { WriteResult } from '../store/store.js';

/**
 * The ingest pipeline every source goes through: validated events in, anonymised, consent
 * checked (by the store, atomically with the write), written; malformed records are reported
 * with their position and reason and counted, and so are refusals.
 */
export interface RecordError {
  /** Where the record was: `line 12`, `index 3`, `file.csv:40`, `dataPoint 7 of system.cpu.time`. */
  at: string;
  reason: string;
}

export interface IngestReport {
  accepted: number;
  /** Malformed records. */
  rejected: number;
  /** Well-formed in-guest records refused because the subject has not opted in. */
  refused: number;
  /** The first errors (at most `maxErrors`), in input order. */
  errors: RecordError[];
}

export const noConsentReason =
  'in-guest (agent) data is stored only for subjects who opted in; record consent with `prescient consent grant KIND:ID`';

export interface Ingestor {
  /** A batch of events plus the records of the same input that failed validation. */
  ingest(batch: IngestBatch): Promise<IngestReport>;
  /** One subject's resource samples column-wise (bulk import), plus its input's invalid records. */
  ingestResourceColumns(batch: ResourceColumnsBatch): Promise<IngestReport>;
}

export interface ResourceColumnsBatch {
  columns: ResourceColumns;
  invalid?: IngestBatch['invalid'];
}

export interface IngestBatch {
  events: readonly TelemetryEvent[];
  /** Where each event came from, for refusal reports (parallel to `events`; optional). */
  positions?: readonly string[];
  invalid?: readonly (RecordError & { source?: EventSource })[];
}

export interface IngestorOptions {
  store: TelemetryStore;
  anonymiser: Anonymiser;
  maxErrors?: number;
}

export function createIngestor(options: IngestorOptions): Ingestor {
  const { store, anonymiser } = options;
  const maxErrors = options.maxErrors ?? 100;
  /** Counts and reports what a write refused and what failed validation. */
  const report = async (written: WriteResult, positionOf: (i: number) => string, invalid: readonly (RecordError & { source?: EventSource })[]): Promise<IngestReport> => {
    const { refused } = written;
    const counts: RejectionCount[] = [];
    const bySource = new Map<EventSource | 'unknown', number>();
    for (const r of invalid) bySource.set(r.source ?? 'unknown', (bySource.get(r.source ?? 'unknown') ?? 0) + 1);
    for (const [source, count] of bySource) counts.push({ reason: 'invalid', source, count });
    if (refused.length > 0) counts.push({ reason: 'no-consent', source: 'agent', count: refused.length });
    if (counts.length > 0) await store.countRejections(counts);
    const errors: RecordError[] = invalid.slice(0, maxErrors).map(({ at, reason }) => ({ at, reason }));
    for (const i of refused) {
      if (errors.length >= maxErrors) break;
      errors.push({ at: positionOf(i), reason: noConsentReason });
    }
    return { accepted: written.written, rejected: invalid.length, refused: refused.length, errors };
  };
  return {
    async ingest({ events, positions, invalid = [] }) {
      const anonymised = events.map((e) => anonymiser.anonymise(e));
      return report(await store.write(anonymised), (i) => positions?.[i] ?? `event ${i}`, invalid);
    },
    async ingestResourceColumns({ columns, invalid = [] }) {
      const written = await store.writeResourceColumns(anonymiser.anonymiseColumns(columns));
      return report(written, columns.positionOf ?? ((i) => `sample ${i}`), invalid);
    },
  };
}

/** Adds reports up (bulk imports ingest in many batches). */
export function mergeReports(into: IngestReport, more: IngestReport, maxErrors = 100): IngestReport {
  into.accepted += more.accepted;
  into.rejected += more.rejected;
  into.refused += more.refused;
  for (const e of more.errors) if (into.errors.length < maxErrors) into.errors.push(e);
  return into;
}

export function emptyReport(): IngestReport {
  return { accepted: 0, rejected: 0, refused: 0, errors: [] };
}
