import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { AppError } from '../core/errors.js';
import type { AnonymiserOptions } from './anonymise.js';
import type { BodyFormat, BodyLimits, DecodedBody } from './decoded-body.js';

/**
 * Decoding threads for telemetry bodies. The server's own thread is the only one that can
 * write SQLite, and it also spent a third of its time in JSON.parse, validation and
 * anonymisation; those run here instead, on the other cores, while it writes. Results come
 * back as columns (DecodedBody), because cloning a thousand objects back would cost the main
 * thread as much as parsing them. Threads start on first use and never keep a process alive.
 */
export interface DecodePool {
  /** A body that is a whole ArrayBuffer of its own (a large one) moves to the thread, not copied: the caller must not read it afterwards. */
  decode(body: Uint8Array, format: BodyFormat, limits?: BodyLimits): Promise<DecodedBody>;
  close(): Promise<void>;
}

export interface DecodePoolOptions extends AnonymiserOptions {
  /** Threads (default: cores − 1, at least 1, at most 4). */
  size?: number;
}

export function createDecodePool(options: DecodePoolOptions): DecodePool {
  const { size: wanted, ...anonymiser } = options;
  const size = wanted ?? Math.max(1, Math.min(4, availableParallelism() - 1));
  const workers: { worker: Worker; busy: number }[] = [];
  const waiting = new Map<number, { resolve: (d: DecodedBody) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  let closed = false;
  const start = (): void => {
    for (let i = 0; i < size; i++) {
      const worker = new Worker(new URL('./decode-worker.js', import.meta.url), { workerData: anonymiser });
      worker.unref();
      const slot = { worker, busy: 0 };
      worker.on('message', (m: { id: number; decoded?: DecodedBody; error?: string }) => {
        slot.busy--;
        const w = waiting.get(m.id);
        waiting.delete(m.id);
        if (m.decoded !== undefined) w?.resolve(m.decoded);
        else w?.reject(new AppError('INTERNAL', `decoding thread: ${m.error}`));
      });
      worker.on('error', (e) => {
        for (const w of waiting.values()) w.reject(e);
        waiting.clear();
      });
      workers.push(slot);
    }
  };
  return {
    decode(body, format, limits) {
      if (closed) return Promise.reject(new AppError('INTERNAL', 'the decode pool is closed'));
      if (workers.length === 0) start();
      // The least busy thread; ties go to the first.
      const slot = workers.reduce((a, b) => (b.busy < a.busy ? b : a));
      slot.busy++;
      const id = nextId++;
      return new Promise<DecodedBody>((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        const own = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength && body.buffer instanceof ArrayBuffer;
        slot.worker.postMessage({ id, body, format, ...(limits ? { limits } : {}) }, own ? [body.buffer as ArrayBuffer] : []);
      });
    },
    async close() {
      closed = true;
      await Promise.all(workers.map((w) => w.worker.terminate()));
      workers.length = 0;
    },
  };
}
