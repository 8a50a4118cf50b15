import type { AnonymisedEvent } from '../contracts/anonymised-event.js';
import type { AnonymisedResourceColumns } from '../contracts/resource-columns.js';
import type { CommandOutcome, EventKind, EventSource, FlowOutcome, ResourceField, SubjectKind } from '../contracts/telemetry-event.js';

/**
 * The telemetry store: the one interface behind which the embedded SQLite adapter (sqlite/) and
 * the PostgreSQL adapter (postgres/, same file names; README.md) sit. Everything in it is already
 * anonymised: a subject is a pseudonym, never an identifier in clear. store-contract.ts holds the
 * tests every adapter must pass.
 *
 * ## Reading history (for prediction)
 *
 *   const store = openSqliteStore({ file: paths(home).store });   // or openPostgresStore({ url })
 *   for (const s of await store.listSubjects({ category: 'web-dev' })) {
 *     const series = await store.rollups(s.subject, { fromMs, toMs });   // 5-minute buckets, oldest first
 *     const seq = await store.sequence(s.subject, { kinds: ['command'] }); // launches/commands in order
 *     const flows = await store.flows(s.subject);                          // set of (direction, protocol, port, remote)
 *     const data = await store.dataAccesses(s.subject);                    // set of (target, op)
 *   }
 *
 * - `listSubjects` gives every subject with its kind, its latest category and its time span;
 *   `subject` the same of one pseudonym (one indexed row, not the whole table).
 * - `rollups` merges all sources: per bucket and resource the mean, the max and the number of
 *   samples (a resource with no sample in a bucket is absent from that bucket's `mean`).
 * - `sequence` orders by time, then by `seq` (the position given by sources without a clock).
 * - `flows` and `dataAccesses` are sets: one row per distinct key with totals and time span.
 */
export interface TelemetryStore {
  /**
   * Writes a batch atomically: raw events, their 5-minute rollups and the subjects' categories.
   * An event already stored (event-digest.ts: same subject, time, source and fields) is not
   * stored again, nor counted again in the rollups: writing a batch twice stores it once.
   * In-guest (`agent`) events whose subject (or one of its `aliases`) has no recorded consent are
   * not written; their indices come back in `refused`. The check runs inside the write
   * transaction, so a revoke can never slip between check and write.
   */
  write(events: readonly AnonymisedEvent[]): Promise<WriteResult>;
  /**
   * The same for one subject's resource samples given column-wise (bulk import): same rollups,
   * same consent rule (an agent batch without consent is refused whole, all its indices).
   */
  writeResourceColumns(batch: AnonymisedResourceColumns): Promise<WriteResult>;

  listSubjects(filter?: { category?: string; kind?: SubjectKind }): Promise<SubjectInfo[]>;
  /** One subject by its pseudonym (what `listSubjects` lists for it), or undefined: the per-request lookup. */
  subject(pseudonym: string): Promise<SubjectInfo | undefined>;
  rollups(subject: string, range?: TimeRange): Promise<ResourceRollup[]>;
  sequence(subject: string, options?: TimeRange & { kinds?: readonly SequenceKind[]; limit?: number }): Promise<SequenceItem[]>;
  flows(subject: string, range?: TimeRange): Promise<FlowSummary[]>;
  dataAccesses(subject: string, range?: TimeRange): Promise<DataAccessSummary[]>;

  /** The image versions a subject's in-guest agents reported from, each with the span it was seen in, oldest first. */
  guestImages(subject: string): Promise<GuestImageSpan[]>;
  /** What a subject's in-guest agents (source `agent` only) reported in a range: what accuracy scores. */
  guestActivity(subject: string, range?: TimeRange): Promise<GuestActivity>;

  /** Consent is recorded per pseudonym (one per key in the keyring). */
  grantConsent(pseudonyms: readonly string[], atMs: number): Promise<void>;
  /** Withdraws consent and deletes every in-guest (`agent`) record of those pseudonyms; returns how many were deleted. */
  revokeConsent(pseudonyms: readonly string[]): Promise<{ deleted: number }>;
  consentedPseudonyms(): Promise<ConsentRecord[]>;
  /** Whether any of these pseudonyms has consent: one indexed lookup, for the request path. */
  hasConsent(pseudonyms: readonly string[]): Promise<boolean>;

  /** Records refused or rejected by ingestion, counted by reason and source (never by subject). */
  countRejections(counts: readonly RejectionCount[]): Promise<void>;
  rejections(): Promise<RejectionCount[]>;

  /** Deletes raw events older than `rawBeforeMs` and rollups older than `rollupsBeforeMs`. */
  prune(policy: { rawBeforeMs?: number; rollupsBeforeMs?: number }): Promise<{ rawDeleted: number; rollupsDeleted: number }>;

  /** Row counts per kind of record (raw events by kind, rollups, subjects). */
  counts(): Promise<StoreCounts>;
  /** One round trip that reads nothing: whether the store answers now (serve's /readyz). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface WriteResult {
  /** Events accepted (not refused), whether new or already stored. */
  written: number;
  /** Of `written`, how many were already stored (the same event, event-digest.ts): skipped, counted once. */
  alreadyStored: number;
  /** Indices into the batch of agent events refused for want of consent. */
  refused: number[];
}

export interface TimeRange {
  fromMs?: number;
  /** Exclusive. */
  toMs?: number;
}

export interface SubjectInfo {
  subject: string;
  kind: SubjectKind;
  category: string | null;
  firstMs: number;
  lastMs: number;
}

export const rollupBucketMs = 5 * 60 * 1000;

export interface ResourceRollup {
  /** Start of the 5-minute bucket, epoch ms. */
  bucketMs: number;
  mean: Partial<Record<ResourceField, number>>;
  max: Partial<Record<ResourceField, number>>;
  samples: Partial<Record<ResourceField, number>>;
}

export type SequenceKind = 'launch' | 'command';

export interface SequenceItem {
  kind: SequenceKind;
  time: number;
  seq: number | null;
  /** The executable (launch) or program (command). */
  name: string;
  user: string | null;
  session: string | null;
  task: string | null;
  source: EventSource;
}

export interface FlowSummary {
  direction: 'in' | 'out';
  protocol: string;
  port: number;
  remote: string;
  /** null: a connection; else a port seen listening, or a connection refused for want of a listener. */
  outcome: FlowOutcome | null;
  flows: number;
  bytes: number;
  firstMs: number;
  lastMs: number;
}

export interface DataAccessSummary {
  target: string;
  op: 'read' | 'write' | null;
  accesses: number;
  bytes: number;
  firstMs: number;
  lastMs: number;
}

export interface GuestImageSpan {
  image: string;
  firstMs: number;
  lastMs: number;
}

export interface GuestActivity {
  /** In-guest resource samples in time order (the fields accuracy needs). */
  samples: { time: number; cpuCores: number | null; cpuPercent: number | null; memoryBytes: number | null; memoryTotalBytes: number | null }[];
  /** Launches and commands by name, with how they ended (`not-found`) when the agent said. */
  programs: { kind: SequenceKind; name: string; outcome: CommandOutcome | null; count: number; lastMs: number }[];
  flows: FlowSummary[];
  accesses: DataAccessSummary[];
}

export interface ConsentRecord {
  pseudonym: string;
  grantedAtMs: number;
}

export interface RejectionCount {
  reason: RejectionReason;
  source: EventSource | 'unknown';
  count: number;
}

export const rejectionReasons = ['invalid', 'no-consent'] as const;
export type RejectionReason = (typeof rejectionReasons)[number];

export type StoreCounts = Record<EventKind, number> & { rollups: number; subjects: number };
