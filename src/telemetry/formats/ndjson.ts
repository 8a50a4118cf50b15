import { eventSources, parseEvent, type EventSource } from '../../contracts/telemetry-event.js';
import { fastResource } from '../fast-resource.js';
import type { RecordResult } from '../record-result.js';
import { readLines } from './line-reader.js';

/**
 * Prescient's own wire format: TelemetryEvents as JSON, either one per line (NDJSON) or as one
 * JSON array. Each record is validated on its own, so one bad line never sinks its neighbours.
 */
export function decodeRecord(value: unknown, at: string): RecordResult {
  const fast = fastResource(value);
  if (fast !== undefined) return { ok: true, event: fast, at };
  const r = parseEvent(value);
  if (r.ok) return { ok: true, event: r.event, at };
  return { ok: false, at, reason: r.reason, source: sourceOf(value) };
}

/** NDJSON text: blank lines are skipped, positions are `line N`. */
export function* decodeNdjson(text: string, firstLine = 1): Generator<RecordResult> {
  let lineNo = firstLine - 1;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    lineNo++;
    const line = text.slice(start, end);
    start = end + 1;
    if (line.trim() === '') continue;
    yield decodeLine(line, `line ${lineNo}`);
  }
}

/** A JSON body: an array of events (positions `index N`) or a single event. */
export function* decodeJsonBody(text: string): Generator<RecordResult> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    yield { ok: false, at: 'body', reason: 'not valid JSON' };
    return;
  }
  if (Array.isArray(value)) for (let i = 0; i < value.length; i++) yield decodeRecord(value[i], `index ${i}`);
  else yield decodeRecord(value, 'index 0');
}

/** An NDJSON file, streamed. */
export async function* readNdjsonFile(path: string, signal?: AbortSignal): AsyncGenerator<RecordResult> {
  for await (const { line, lineNo } of readLines(path, signal)) {
    if (line.trim() === '') continue;
    yield decodeLine(line, `${path}:${lineNo}`);
  }
}

function decodeLine(line: string, at: string): RecordResult {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    // V8's message quotes the input, which may be personal data: say only what is wrong.
    return { ok: false, at, reason: 'not valid JSON' };
  }
  return decodeRecord(value, at);
}

function sourceOf(value: unknown): EventSource | undefined {
  const s = value && typeof value === 'object' ? (value as { source?: unknown }).source : undefined;
  return eventSources.includes(s as EventSource) ? (s as EventSource) : undefined;
}
