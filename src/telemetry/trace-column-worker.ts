import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { ValidationError } from '../core/errors.js';
import { lowerThisThreadPriority } from '../core/thread-priority.js';
import { resourceWidth } from './resource-columns.js';
import { bitbrainsColumns } from './trace-events.js';
import type { WorkerMessage, WorkerTask } from './trace-columns-in-worker.js';

/**
 * The worker half of readTraceColumnsInWorker: reads and parses trace files into resource
 * columns while the main thread writes earlier ones to SQLite. It keeps at most `ahead`
 * batches in front of what the main thread has taken, so memory stays bounded.
 */
const task = workerData as WorkerTask;
// Parsing is the cheap third of a bulk import and runs batches ahead: on two cores shared by
// three threads (this one, the SQLite writer, the rollup thread), it should take only what the
// other two leave. Measured on the Bitbrains month: 163k → 182–195k samples/s.
lowerThisThreadPriority(10);
const port = parentPort!;
let credits = task.ahead;
let wake: (() => void) | undefined;
port.on('message', (m: { type: string }) => {
  if (m.type !== 'ack') return;
  credits++;
  wake?.();
  wake = undefined;
});

const send = (m: WorkerMessage, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);

async function main(): Promise<void> {
  for (let index = 0; index < task.files.length; index++) {
    const file = task.files[index]!;
    const { columns, lineNo, invalid, records } = bitbrainsColumns(readFileSync(file), file, { source: task.source, category: task.category });
    // A file becomes one batch or more (never zero: the main thread counts files by them).
    for (let start = 0; start === 0 || start < columns.rows; start += task.batchRows) {
      while (credits === 0) await new Promise<void>((r) => (wake = r));
      credits--;
      const end = Math.min(columns.rows, start + task.batchRows);
      // slice, not subarray: a transferred buffer must hold only this batch.
      const time = columns.time.slice(start, end);
      const values = columns.values.slice(start * resourceWidth, end * resourceWidth);
      const lines = lineNo.slice(start, end);
      const first = start === 0;
      send(
        { type: 'batch', index, file, subjectId: columns.subject.id, time, values, lineNo: lines, invalid: first ? invalid : [], records: first ? records : 0, last: end >= columns.rows },
        [time.buffer as ArrayBuffer, values.buffer as ArrayBuffer, lines.buffer as ArrayBuffer],
      );
    }
  }
  send({ type: 'end' });
}

main().then(
  () => port.close(),
  (e: unknown) => {
    send(
      e instanceof ValidationError
        ? { type: 'error', field: e.field, message: e.message.slice(e.field.length + 2) }
        : { type: 'error', message: e instanceof Error ? (e.stack ?? e.message) : String(e) },
    );
    port.close();
  },
);
