import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { AppError, type ErrorCode } from '../core/errors.js';
import type { DecodedOtlp, OtlpEncoding } from './formats/otlp-body.js';
import type { DecodeJob } from './decode-worker.js';
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
  /**
   * An OTLP/HTTP body decoded there (decodeOtlpBody), always on the first thread: it holds the
   * counter state. Its refusals (400, 413) come back as they were thrown. The body moves as in `decode`.
   */
  decodeOtlp(body: Uint8Array, encoding: OtlpEncoding, limits?: { maxDataPoints?: number; subjects?: readonly string[] }): Promise<DecodedOtlp>;
  close(): Promise<void>;
}

export interface DecodePoolOptions extends AnonymiserOptions {
  /** Threads (default: cores − 1, at least 1, at most 4). */
  size?: number;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export function createDecodePool(options: DecodePoolOptions): DecodePool {
  const { size: wanted, ...anonymiser } = options;
  const size = wanted ?? Math.max(1, Math.min(4, availableParallelism() - 1));
  const workers: { worker: Worker; busy: number }[] = [];
  const waiting = new Map<number, { resolve: (d: never) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  let closed = false;
  const start = (): void => {
    for (let i = 0; i < size; i++) {
      const worker = new Worker(new URL('./decode-worker.js', import.meta.url), { workerData: anonymiser });
      worker.unref();
      const slot = { worker, busy: 0 };
      worker.on('message', (m: { id: number; result?: never; appError?: { code: ErrorCode; message: string; details?: Record<string, unknown> }; error?: string }) => {
        slot.busy--;
        const w = waiting.get(m.id);
        waiting.delete(m.id);
        if (m.result !== undefined) w?.resolve(m.result);
        else if (m.appError !== undefined) w?.reject(new AppError(m.appError.code, m.appError.message, m.appError.details ? { details: m.appError.details } : {}));
        else w?.reject(new AppError('INTERNAL', `decoding thread: ${m.error}`));
      });
      worker.on('error', (e) => {
        for (const w of waiting.values()) w.reject(e);
        waiting.clear();
      });
      workers.push(slot);
    }
  };
  const run = <T>(job: DistributiveOmit<DecodeJob, 'id'>): Promise<T> => {
    if (closed) return Promise.reject(new AppError('INTERNAL', 'the decode pool is closed'));
    if (workers.length === 0) start();
    // The least busy thread, ties to the first; OTLP always to the first (its counter state).
    const slot = job.format === 'otlp-json' || job.format === 'otlp-protobuf' ? workers[0]! : workers.reduce((a, b) => (b.busy < a.busy ? b : a));
    slot.busy++;
    const id = nextId++;
    const { body } = job;
    return new Promise<T>((resolve, reject) => {
      waiting.set(id, { resolve: resolve as (d: never) => void, reject });
      const own = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength && body.buffer instanceof ArrayBuffer;
      slot.worker.postMessage({ id, ...job }, own ? [body.buffer as ArrayBuffer] : []);
    });
  };
  return {
    decode: (body, format, limits) => run<DecodedBody>({ body, format, ...(limits ? { limits } : {}) }),
    decodeOtlp: (body, encoding, limits = {}) => run<DecodedOtlp>({ body, format: encoding === 'json' ? 'otlp-json' : 'otlp-protobuf', ...limits }),
    async close() {
      closed = true;
      await Promise.all(workers.map((w) => w.worker.terminate()));
      workers.length = 0;
    },
  };
}
