import type { AnonymisedEvent } from '../contracts/anonymised-event.js';
import type { Anonymiser } from './anonymise.js';
import type { EventSource } from '../contracts/telemetry-event.js';
import { decodeJsonBody, decodeNdjson } from './formats/ndjson.js';
import type { RecordResult } from './record-result.js';
import type { RecordError } from './ingest-batch.js';
import type { AnonymisedResourceColumns, ColumnSubject } from '../contracts/resource-columns.js';
import { resourceWidth } from '../contracts/resource-columns.js';

/**
 * A `POST /v1/telemetry` body decoded, validated and anonymised, in the shape that is cheap to
 * hand from a decoding thread to the writing one: resource samples (most of any stream) as
 * columns per source, everything else as events. Positions are kept as numbers and only become
 * text (`line 12`, `index 3`) for the few records a report names.
 */
export interface DecodedBody {
  resources: AnonymisedResourceColumns[];
  /** Per resources[k]: the input position (line or index number) of each row. */
  resourcePositions: Int32Array[];
  events: AnonymisedEvent[];
  eventPositions: string[];
  invalid: (RecordError & { source?: EventSource })[];
  /** Set when decoding stopped at `limits.maxInvalid` invalid records: nothing of the body may be stored. */
  stoppedAtInvalid?: number;
  /** The first record whose subject the caller may not write about (decoding stopped there). */
  forbidden?: RecordError;
}

export type BodyFormat = 'ndjson' | 'json';

/** What one body may cost and whom it may be about (set by the HTTP edge from the credential). */
export interface BodyLimits {
  /** Stop decoding after this many invalid records (a flood of junk lines costs no more than this). */
  maxInvalid?: number;
  /** Subjects in clear (`client:webshop`) the body may name; undefined: any (the admin). */
  subjects?: readonly string[];
}

export function decodeBody(text: string, format: BodyFormat, anonymiser: Anonymiser, limits: BodyLimits = {}): DecodedBody {
  return decodeRecords(format === 'ndjson' ? decodeNdjson(text) : decodeJsonBody(text), anonymiser, limits);
}

/**
 * Decoded records (of a body, or what an OTLP request's points became) validated, bound to the
 * caller's subjects and anonymised into a DecodedBody. A row's position is the number in its
 * `at` (`line 12`), or with `byIndex` its index among the records (OTLP's are not numbered).
 */
export function decodeRecords(records: Iterable<RecordResult>, anonymiser: Anonymiser, limits: BodyLimits = {}, byIndex = false): DecodedBody {
  const groups = new Map<EventSource, { subjects: Map<string, number>; table: ColumnSubject[]; subjectOf: number[]; time: number[]; values: number[]; positions: number[] }>();
  const out: DecodedBody = { resources: [], resourcePositions: [], events: [], eventPositions: [], invalid: [] };
  const categories = new Map<string, string>();
  const allowed = limits.subjects === undefined ? undefined : new Set(limits.subjects);
  const maxInvalid = limits.maxInvalid ?? Infinity;
  let index = -1;
  for (const r of records) {
    index++;
    if (!r.ok) {
      out.invalid.push(r.source === undefined ? { at: r.at, reason: r.reason } : { at: r.at, reason: r.reason, source: r.source });
      if (out.invalid.length >= maxInvalid) {
        out.stoppedAtInvalid = out.invalid.length;
        break;
      }
      continue;
    }
    const ev = r.event;
    if (allowed !== undefined && !allowed.has(`${ev.subject.kind}:${ev.subject.id}`)) {
      // Named by kind only: the id may be personal data, and this answer reaches logs.
      out.forbidden = { at: r.at, reason: `subject: this credential may not write about this ${ev.subject.kind} (allowed: ${[...allowed].join(', ')})` };
      break;
    }
    if (ev.kind !== 'resource') {
      out.events.push(anonymiser.anonymise(ev));
      out.eventPositions.push(r.at);
      continue;
    }
    // What anonymise() does to a resource sample (pseudonym, scrubbed category, aliases for
    // in-guest data), straight into the columns: no second object per sample.
    let g = groups.get(ev.source);
    if (g === undefined) groups.set(ev.source, (g = { subjects: new Map(), table: [], subjectOf: [], time: [], values: [], positions: [] }));
    // One column entry per subject and image version, so each sample keeps the version it was taken in.
    const clear = ev.image === undefined ? `${ev.subject.kind}:${ev.subject.id}` : `${ev.subject.kind}:${ev.subject.id}\0${ev.image}`;
    let k = g.subjects.get(clear);
    if (k === undefined) {
      k = g.table.length;
      g.subjects.set(clear, k);
      const entry: ColumnSubject = { subject: anonymiser.pseudonym(ev.subject.kind, ev.subject.id), subjectKind: ev.subject.kind };
      if (ev.image !== undefined) entry.image = ev.image;
      if (ev.source === 'agent') {
        const older = anonymiser.pseudonymsUnderAllKeys(ev.subject.kind, ev.subject.id).slice(1);
        if (older.length > 0) entry.aliases = older;
      }
      g.table.push(entry);
    }
    if (ev.category !== undefined) {
      let c = categories.get(ev.category);
      if (c === undefined) categories.set(ev.category, (c = anonymiser.scrubText(ev.category)));
      g.table[k]!.category = c; // the latest wins, as in store.write
    }
    g.subjectOf.push(k);
    g.time.push(ev.time);
    g.values.push(ev.cpuCores ?? NaN, ev.cpuPercent ?? NaN, ev.memoryBytes ?? NaN, ev.memoryTotalBytes ?? NaN, ev.diskReadBps ?? NaN, ev.diskWriteBps ?? NaN, ev.netInBps ?? NaN, ev.netOutBps ?? NaN);
    g.positions.push(byIndex ? index : Number(r.at.slice(r.at.indexOf(' ') + 1)));
  }
  for (const [source, g] of groups) {
    out.resources.push({
      source,
      subjects: g.table,
      subjectOf: Int32Array.from(g.subjectOf),
      rows: g.time.length,
      time: Float64Array.from(g.time),
      values: Float64Array.from(g.values),
    });
    out.resourcePositions.push(Int32Array.from(g.positions));
  }
  return out;
}

if (resourceWidth !== 8) throw new Error('resourceFields changed: update the values pushed in decodeBody');
