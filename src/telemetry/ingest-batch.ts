import type { EventSource, TelemetryEvent } from '../contracts/telemetry-event.js';

/** A record that could not be read, and why (the reason never quotes the value). */
export interface RecordError {
  /** Where the record was: `line 12`, `index 3`, `file.csv:40`, `dataPoint 7 of system.cpu.time`. */
  at: string;
  reason: string;
}

/** What the ingestor takes: validated events, and the records already refused while decoding. */
export interface IngestBatch {
  events: readonly TelemetryEvent[];
  /** Where each event came from, for refusal reports (parallel to `events`; optional). */
  positions?: readonly string[];
  invalid?: readonly (RecordError & { source?: EventSource })[];
}
