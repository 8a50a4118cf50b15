import type { AnonymisedEvent } from './anonymised-event.js';
import type { Anonymiser } from './anonymise.js';
import type { EventSource } from './event.js';
import { decodeJsonBody, decodeNdjson } from './formats/ndjson.js';
import type { RecordError } from './ingest.js';
import type { AnonymisedResourceColumns, ColumnSubject } from './resource-columns.js';
import { resourceWidth } from './resource-columns.js';

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
}

export type BodyFormat = 'ndjson' | 'json';

export function decodeBody(text: string, format: BodyFormat, anonymiser: Anonymiser): DecodedBody {
  const groups = new Map<EventSource, { subjects: Map<string, number>; table: ColumnSubject[]; subjectOf: number[]; time: number[]; values: number[]; positions: number[] }>();
  const out: DecodedBody = { resources: [], resourcePositions: [], events: [], eventPositions: [], invalid: [] };
  for (const r of format === 'ndjson' ? decodeNdjson(text) : decodeJsonBody(text)) {
    if (!r.ok) {
      out.invalid.push(r.source === undefined ? { at: r.at, reason: r.reason } : { at: r.at, reason: r.reason, source: r.source });
      continue;
    }
    const e = anonymiser.anonymise(r.event);
    if (e.kind !== 'resource') {
      out.events.push(e);
      out.eventPositions.push(r.at);
      continue;
    }
    let g = groups.get(e.source);
    if (g === undefined) groups.set(e.source, (g = { subjects: new Map(), table: [], subjectOf: [], time: [], values: [], positions: [] }));
    let k = g.subjects.get(e.subject);
    if (k === undefined) {
      k = g.table.length;
      g.subjects.set(e.subject, k);
      g.table.push({ subject: e.subject, subjectKind: e.subjectKind, ...(e.aliases === undefined ? {} : { aliases: e.aliases }) });
    }
    if (e.category !== undefined) g.table[k]!.category = e.category; // the latest wins, as in store.write
    g.subjectOf.push(k);
    g.time.push(e.time);
    g.values.push(e.cpuCores ?? NaN, e.cpuPercent ?? NaN, e.memoryBytes ?? NaN, e.memoryTotalBytes ?? NaN, e.diskReadBps ?? NaN, e.diskWriteBps ?? NaN, e.netInBps ?? NaN, e.netOutBps ?? NaN);
    g.positions.push(Number(r.at.slice(r.at.indexOf(' ') + 1)));
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
