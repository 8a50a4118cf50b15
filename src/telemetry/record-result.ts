import type { IngestBatch, RecordError } from './ingest-batch.js';
import type { EventSource, TelemetryEvent } from '../contracts/telemetry-event.js';

/** One decoded input record: a valid event, or where it was and why it was refused. */
export type RecordResult =
  | { ok: true; event: TelemetryEvent; at: string }
  | { ok: false; at: string; reason: string; source?: EventSource | undefined };

export function toBatch(results: Iterable<RecordResult>): IngestBatch & { events: TelemetryEvent[]; positions: string[]; invalid: RecordError[] } {
  const events: TelemetryEvent[] = [];
  const positions: string[] = [];
  const invalid: { at: string; reason: string; source?: EventSource }[] = [];
  for (const r of results) {
    if (r.ok) {
      events.push(r.event);
      positions.push(r.at);
    } else invalid.push(r.source === undefined ? { at: r.at, reason: r.reason } : { at: r.at, reason: r.reason, source: r.source });
  }
  return { events, positions, invalid };
}
