import type { RejectionCount, TelemetryStore } from '../store/store.js';
import type { Anonymiser } from './anonymise.js';
import type { EventSource } from '../contracts/telemetry-event.js';
import type { IngestBatch, RecordError } from './ingest-batch.js';
import type { DecodePool } from './decode-pool.js';
import { decodeBody, type BodyFormat, type BodyLimits } from './decoded-body.js';
import type { ResourceColumns } from '../contracts/resource-columns.js';
import { AbortedError } from '../core/errors.js';
import { decodeOtlpBody, type OtlpEncoding } from './formats/otlp-body.js';
import { createCounterRates } from './counter-rates.js';
import type { DecodedBody } from './decoded-body.js';

/**
 * The ingest pipeline every source goes through: validated events in, anonymised, consent
 * checked (by the store, atomically with the write), written; malformed records are reported
 * with their position and reason and counted, and so are refusals.
 */

export interface IngestReport {
  /** Valid records stored, or found already stored (`alreadyStored` of them). */
  accepted: number;
  /** Accepted records that were already in the store (the same event sent again): not stored twice. */
  alreadyStored: number;
  /** Malformed records. */
  rejected: number;
  /** Well-formed in-guest records refused because the subject has not opted in. */
  refused: number;
  /** The first errors (at most `maxErrors`), in input order. */
  errors: RecordError[];
  /** Decoding stopped at this many invalid records (BodyLimits.maxInvalid); nothing was stored. */
  stoppedAtInvalid?: number;
  /** A record about a subject the caller may not write about (BodyLimits.subjects); nothing was stored. */
  forbidden?: RecordError;
}

export const noConsentReason =
  'in-guest (agent) data is stored only for subjects who opted in; record consent with `prescient consent grant KIND:ID`';

export interface Ingestor {
  /** A batch of events plus the records of the same input that failed validation. */
  ingest(batch: IngestBatch): Promise<IngestReport>;
  /** One subject's resource samples column-wise (bulk import), plus its input's invalid records. */
  ingestResourceColumns(batch: ResourceColumnsBatch): Promise<IngestReport>;
  /**
   * A request body of TelemetryEvents (NDJSON, or a JSON array), decoded on the decode pool's
   * threads when there is one. Positions are `line N` (NDJSON) or `index N` (JSON).
   */
  ingestBody(body: Uint8Array, format: BodyFormat, limits?: BodyLimits, signal?: AbortSignal): Promise<IngestReport>;
  /**
   * An OTLP/HTTP metrics body, decoded (decodeOtlpBody) on the decode pool's first thread when
   * there is one, and stored like a body. `notARequest`: why it is none, nothing stored; none
   * valid and at least `maxInvalid` invalid: `stoppedAtInvalid`, nothing stored or counted.
   */
  ingestOtlp(body: Uint8Array, encoding: OtlpEncoding, limits: { maxDataPoints?: number; subjects?: readonly string[]; maxInvalid?: number }, signal?: AbortSignal): Promise<{ notARequest: string } | { report: IngestReport; rejectedDataPoints: number }>;
}

export interface ResourceColumnsBatch {
  columns: ResourceColumns;
  invalid?: IngestBatch['invalid'];
}


export interface IngestorOptions {
  store: TelemetryStore;
  anonymiser: Anonymiser;
  /** Threads that decode bodies for ingestBody (without one, bodies are decoded here). */
  decodePool?: DecodePool | undefined;
  maxErrors?: number;
}

export function createIngestor(options: IngestorOptions): Ingestor {
  const { store, anonymiser } = options;
  const maxErrors = options.maxErrors ?? 100;
  /** OTLP counter state when there is no decode pool (whose first thread keeps it otherwise). */
  let ownRates: ReturnType<typeof createCounterRates> | undefined;
  /** Counts and reports what writes refused (`refusedAt`: their positions) and what failed validation. */
  const report = async (written: number, alreadyStored: number, refusedAt: readonly string[], invalid: readonly (RecordError & { source?: EventSource })[]): Promise<IngestReport> => {
    const counts: RejectionCount[] = [];
    const bySource = new Map<EventSource | 'unknown', number>();
    for (const r of invalid) bySource.set(r.source ?? 'unknown', (bySource.get(r.source ?? 'unknown') ?? 0) + 1);
    for (const [source, count] of bySource) counts.push({ reason: 'invalid', source, count });
    if (refusedAt.length > 0) counts.push({ reason: 'no-consent', source: 'agent', count: refusedAt.length });
    if (counts.length > 0) await store.countRejections(counts);
    const errors: RecordError[] = invalid.slice(0, maxErrors).map(({ at, reason }) => ({ at, reason }));
    for (const at of refusedAt) {
      if (errors.length >= maxErrors) break;
      errors.push({ at, reason: noConsentReason });
    }
    return { accepted: written, alreadyStored, rejected: invalid.length, refused: refusedAt.length, errors };
  };
  const ingestor: Ingestor = {
    async ingest({ events, positions, invalid = [] }) {
      const anonymised = events.map((e) => anonymiser.anonymise(e));
      const w = await store.write(anonymised);
      return report(w.written, w.alreadyStored, w.refused.map((i) => positions?.[i] ?? `event ${i}`), invalid);
    },
    async ingestResourceColumns({ columns, invalid = [] }) {
      const w = await store.writeResourceColumns(anonymiser.anonymiseColumns(columns));
      const at = columns.positionOf ?? ((i: number) => `sample ${i}`);
      return report(w.written, w.alreadyStored, w.refused.map(at), invalid);
    },
    async ingestOtlp(body, encoding, { maxInvalid = Infinity, ...limits }, signal) {
      const o = options.decodePool ? await options.decodePool.decodeOtlp(body, encoding, limits) : decodeOtlpBody(body, encoding, anonymiser, (ownRates ??= createCounterRates()), limits);
      if ('invalid' in o) return { notARequest: o.invalid };
      const d = o.decoded;
      const none = d.events.length === 0 && d.resources.every((r) => r.rows === 0);
      if (none && d.invalid.length >= maxInvalid) d.stoppedAtInvalid = d.invalid.length;
      return { report: await writeDecoded(d, 'sample', signal), rejectedDataPoints: o.rejectedDataPoints };
    },
    async ingestBody(body, format, limits, signal) {
      const d = options.decodePool
        ? await options.decodePool.decode(body, format, limits)
        : decodeBody(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'), format, anonymiser, limits);
      return writeDecoded(d, format === 'ndjson' ? 'line' : 'index', signal);
    },
  };
  return ingestor;
  /** A decoded body stored (one transaction) and reported, its rows named `label N`; or refused whole. */
  async function writeDecoded(d: DecodedBody, label: string, signal: AbortSignal | undefined): Promise<IngestReport> {
    // Its sender gave up while it was decoded: nothing of it is stored (it will be sent again).
    if (signal?.aborted) throw new AbortedError('the request');
    // A refused body stores nothing and counts nothing: its caller gets a 4xx and may send it again.
    if (d.forbidden !== undefined) return { accepted: 0, alreadyStored: 0, rejected: 0, refused: 0, errors: [d.forbidden], forbidden: d.forbidden };
    if (d.stoppedAtInvalid !== undefined) {
      return { accepted: 0, alreadyStored: 0, rejected: d.invalid.length, refused: 0, errors: d.invalid.slice(0, Math.min(maxErrors, 10)).map(({ at, reason }) => ({ at, reason })), stoppedAtInvalid: d.stoppedAtInvalid };
    }
    // Called in the same turn, so the store's group commit writes them in one transaction.
    const [ev, ...res] = await Promise.all([store.write(d.events), ...d.resources.map((r) => store.writeResourceColumns(r))]);
    const refused: number[] = ev!.refused.map((i) => Number(d.eventPositions[i]!.slice(d.eventPositions[i]!.indexOf(' ') + 1)));
    res.forEach((w, k) => {
      for (const i of w.refused) refused.push(d.resourcePositions[k]![i]!);
    });
    refused.sort((a, b) => a - b); // input order, as ingest() reports them
    const written = res.reduce((n, w) => n + w.written, ev!.written);
    const alreadyStored = res.reduce((n, w) => n + w.alreadyStored, ev!.alreadyStored);
    return report(written, alreadyStored, refused.map((n) => `${label} ${n}`), d.invalid);
  }
}

/** Adds reports up (bulk imports ingest in many batches). */
export function mergeReports(into: IngestReport, more: IngestReport, maxErrors = 100): IngestReport {
  into.accepted += more.accepted;
  into.alreadyStored += more.alreadyStored;
  into.rejected += more.rejected;
  into.refused += more.refused;
  for (const e of more.errors) if (into.errors.length < maxErrors) into.errors.push(e);
  return into;
}

export function emptyReport(): IngestReport {
  return { accepted: 0, alreadyStored: 0, rejected: 0, refused: 0, errors: [] };
}
