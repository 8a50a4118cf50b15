import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { AbortedError, ValidationError } from '../core/errors.js';
import { createCounterRates } from './counter-rates.js';
import type { EventSource } from '../contracts/telemetry-event.js';
import { readCsvEvents } from './formats/csv.js';
import { readNdjsonFile } from './formats/ndjson.js';
import { decodeOtlpMetrics } from './formats/otlp.js';
import { emptyReport, mergeReports, type IngestReport, type Ingestor } from './ingest.js';
import type { RecordResult } from './record-result.js';
import { toBatch } from './record-result.js';
import { readTraceColumns } from './trace-columns.js';
import { bitbrainsEvents, commandEvents, planetlabEvents, type TraceDefaults } from './trace-events.js';

/**
 * Bulk import of files and folders (`prescient ingest`). A folder is walked recursively in
 * name order; hidden files are skipped, and so are files the format's name pattern does not
 * match (Schonlau's label.txt is not a user). Records go to the ingestor in batches.
 */
export const importFormats = ['ndjson', 'otlp', 'planetlab', 'bitbrains', 'commands', 'csv'] as const;
export type ImportFormat = (typeof importFormats)[number];

/** Which files of a folder belong to a format. */
export const formatFilePattern: Record<ImportFormat, RegExp> = {
  ndjson: /\.(ndjson|jsonl)$/i,
  otlp: /\.(json|jsonl|ndjson)$/i,
  planetlab: /^[^.]+$/, // one file per VM, named after it, no extension
  bitbrains: /\.csv$/i,
  commands: /^[^.]+$/, // one file per user (User1…), no extension
  csv: /\.csv$/i,
};

/** The source a format's data comes from unless told otherwise. */
export const formatDefaultSource: Record<ImportFormat, EventSource> = {
  ndjson: 'hypervisor', // unused: each event names its own source
  otlp: 'agent',
  planetlab: 'hypervisor',
  bitbrains: 'hypervisor',
  commands: 'app-log',
  csv: 'hypervisor',
};

export interface ImportOptions {
  path: string;
  format: ImportFormat;
  ingestor: Ingestor;
  source?: EventSource;
  category?: string;
  startMs?: number;
  batchSize?: number;
  signal?: AbortSignal;
  onFile?: (file: string, index: number, total: number) => void;
}

export interface ImportResult extends IngestReport {
  files: number;
  /** Records read per file, for checking an import against the files' own counts. */
  perFile: { file: string; records: number }[];
}

export async function importFiles(options: ImportOptions): Promise<ImportResult> {
  const files = await listFiles(options.path, formatFilePattern[options.format]);
  if (files.length === 0) throw new ValidationError(options.path, `no ${options.format} files here (names matching ${formatFilePattern[options.format]})`);
  const batchSize = options.batchSize ?? 10_000;
  const d: TraceDefaults = {
    source: options.source ?? formatDefaultSource[options.format],
    category: options.category,
    ...(options.startMs === undefined ? {} : { startMs: options.startMs }),
  };
  const total: ImportResult = { ...emptyReport(), files: files.length, perFile: [] };
  if (options.format === 'bitbrains') {
    // The bulk path: column-wise, no object per sample (the store's rollup thread is the second core).
    let records = 0;
    for await (const b of readTraceColumns({ files, format: 'bitbrains', source: d.source, category: d.category, signal: options.signal })) {
      if (records === 0 && b.records > 0) options.onFile?.(b.file, b.index, files.length);
      records += b.records;
      mergeReports(total, await options.ingestor.ingestResourceColumns({ columns: b.columns, invalid: b.invalid }));
      if (b.last) {
        total.perFile.push({ file: b.file, records });
        records = 0;
      }
    }
    return total;
  }
  let pending: RecordResult[] = [];
  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    const batch = toBatch(pending);
    pending = [];
    mergeReports(total, await options.ingestor.ingest(batch));
  };
  for (let i = 0; i < files.length; i++) {
    const file = files[i]!;
    if (options.signal?.aborted) throw new AbortedError('import');
    options.onFile?.(file, i, files.length);
    let records = 0;
    for await (const chunk of recordsOf(file, options.format, d, options.signal)) {
      if (Array.isArray(chunk)) {
        records += chunk.length;
        for (const r of chunk) pending.push(r);
      } else {
        records++;
        pending.push(chunk);
      }
      if (pending.length >= batchSize) await flush();
    }
    total.perFile.push({ file, records });
  }
  await flush();
  return total;
}

function recordsOf(file: string, format: ImportFormat, d: TraceDefaults, signal?: AbortSignal): AsyncIterable<RecordResult | RecordResult[]> {
  switch (format) {
    case 'bitbrains':
      return bitbrainsEvents(file, d, signal);
    case 'planetlab':
      return planetlabEvents(file, d, signal);
    case 'commands':
      return commandEvents(file, d, signal);
    case 'csv':
      return readCsvEvents(file, { source: d.source }, signal);
    case 'ndjson':
      return readNdjsonFile(file, signal);
    case 'otlp':
      return otlpFile(file, d);
  }
}

/** An OTLP JSON file: one ExportMetricsServiceRequest, or one per line (the Collector's file exporter). */
async function* otlpFile(file: string, d: TraceDefaults): AsyncGenerator<RecordResult> {
  const text = await readFile(file, 'utf8');
  const rates = createCounterRates();
  let requests: unknown[];
  try {
    requests = [JSON.parse(text)];
  } catch {
    requests = [];
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      if (lines[i]!.trim() === '') continue;
      try {
        requests.push(JSON.parse(lines[i]!));
      } catch {
        yield { ok: false, at: `${file}:${i + 1}`, reason: 'not valid JSON' };
      }
    }
  }
  // A file of one's own is not an edge: it is read whole, however many points it holds.
  for (const req of requests) {
    for (const r of decodeOtlpMetrics(req, rates, { source: d.source, maxDataPoints: Infinity }).results) yield { ...r, at: `${file} ${r.at}` };
  }
}

async function listFiles(path: string, pattern: RegExp): Promise<string[]> {
  let s;
  try {
    s = await stat(path);
  } catch {
    throw new ValidationError(path, 'no such file or folder');
  }
  if (s.isFile()) return [path];
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const p = join(dir, e.name);
      const kind = e.isSymbolicLink() ? await stat(p).catch(() => undefined) : e;
      if (kind?.isDirectory()) await walk(p);
      else if (kind?.isFile() && pattern.test(basename(p))) out.push(p);
    }
  };
  await walk(path);
  return out;
}
