import { Worker } from 'node:worker_threads';
import { AbortedError, AppError, ValidationError } from '../core/errors.js';
import type { EventSource } from './event.js';
import type { RecordError } from './ingest.js';
import type { ResourceColumns } from './resource-columns.js';

/**
 * Trace files read and parsed on a worker thread, as column batches. Bulk import is two jobs of
 * about equal size, parsing and writing SQLite; SQLite has one writer, so the other core is
 * only put to work by moving the parsing off the main thread. Batches arrive in file order.
 */
export interface TraceColumnBatch {
  /** Index of the file in `files`. */
  index: number;
  file: string;
  columns: ResourceColumns;
  invalid: (RecordError & { source: EventSource })[];
  /** Rows of the file this batch read (valid or not; the whole file's count on its first batch). */
  records: number;
  /** The file's last batch. */
  last: boolean;
}

export interface TraceColumnsOptions {
  files: readonly string[];
  /** Only Bitbrains so far: the one trace whose size makes the difference. */
  format: 'bitbrains';
  source: EventSource;
  category?: string | undefined;
  /** Largest batch (default 10,000 samples). */
  batchRows?: number;
  /** Batches the worker may have ready before the main thread takes them (default 3). */
  ahead?: number;
  signal?: AbortSignal | undefined;
}

/** What the main thread tells the worker (workerData). */
export interface WorkerTask {
  files: readonly string[];
  source: EventSource;
  category?: string | undefined;
  batchRows: number;
  ahead: number;
}

export type WorkerMessage =
  | {
      type: 'batch';
      index: number;
      file: string;
      subjectId: string;
      time: Float64Array;
      values: Float64Array;
      lineNo: Int32Array;
      invalid: (RecordError & { source: EventSource })[];
      records: number;
      last: boolean;
    }
  | { type: 'end' }
  | { type: 'error'; field?: string; message: string };

export async function* readTraceColumnsInWorker(options: TraceColumnsOptions): AsyncGenerator<TraceColumnBatch> {
  const task: WorkerTask = { files: options.files, source: options.source, category: options.category, batchRows: options.batchRows ?? 10_000, ahead: options.ahead ?? 3 };
  const worker = new Worker(new URL('./trace-column-worker.js', import.meta.url), { workerData: task });
  const inbox: (WorkerMessage | { type: 'crash'; error: Error })[] = [];
  let wake: (() => void) | undefined;
  const push = (m: (typeof inbox)[number]): void => {
    inbox.push(m);
    wake?.();
    wake = undefined;
  };
  worker.on('message', (m: WorkerMessage) => push(m));
  worker.on('error', (error: Error) => push({ type: 'crash', error }));
  worker.on('exit', (code) => push({ type: 'crash', error: new AppError('INTERNAL', `the trace parser thread exited (${code}) before the end`) }));
  const onAbort = (): void => push({ type: 'crash', error: new AbortedError('import') });
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      if (options.signal?.aborted) throw new AbortedError('import');
      while (inbox.length === 0) await new Promise<void>((r) => (wake = r));
      const m = inbox.shift()!;
      switch (m.type) {
        case 'end':
          return;
        case 'crash':
          throw m.error;
        case 'error':
          throw m.field === undefined ? new AppError('INTERNAL', m.message) : new ValidationError(m.field, m.message);
        case 'batch': {
          const { file, lineNo } = m;
          yield {
            index: m.index,
            file,
            columns: {
              subject: { kind: 'vm', id: m.subjectId },
              source: options.source,
              category: options.category,
              rows: m.time.length,
              time: m.time,
              values: m.values,
              positionOf: (i) => `${file}:${lineNo[i]}`,
            },
            invalid: m.invalid,
            records: m.records,
            last: m.last,
          };
          worker.postMessage({ type: 'ack' });
        }
      }
    }
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    worker.removeAllListeners();
    await worker.terminate();
  }
}
