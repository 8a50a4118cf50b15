import { parentPort, workerData } from 'node:worker_threads';
import { AppError } from '../core/errors.js';
import { createAnonymiser, type AnonymiserOptions } from './anonymise.js';
import { decodeBody, type BodyFormat, type BodyLimits } from './decoded-body.js';
import { createCounterRates } from './counter-rates.js';
import { decodeOtlpBody } from './formats/otlp-body.js';
import type { DecodedBody } from './decoded-body.js';

/**
 * The thread half of createDecodePool: the same anonymiser as the main thread (same keys, same
 * prefixes), so what comes back is already anonymised: no identifier in clear crosses back.
 * OTLP bodies all go to the first thread, which keeps the server's one counter state (rates of
 * cumulative sums need the series' previous point).
 */
const options = workerData as AnonymiserOptions;
const anonymiser = createAnonymiser(options);
const rates = createCounterRates();
/** Its columns move back rather than being copied. */
const transferOf = (d: DecodedBody): ArrayBuffer[] => [...d.resources.flatMap((r) => [r.time.buffer, r.values.buffer, r.subjectOf!.buffer]), ...d.resourcePositions.map((p) => p.buffer)] as ArrayBuffer[];
export type DecodeJob =
  | { id: number; body: Uint8Array; format: BodyFormat; limits?: BodyLimits }
  | { id: number; body: Uint8Array; format: 'otlp-json' | 'otlp-protobuf'; maxDataPoints?: number; subjects?: readonly string[] };
parentPort!.on('message', (m: DecodeJob) => {
  try {
    if (m.format === 'otlp-json' || m.format === 'otlp-protobuf') {
      const result = decodeOtlpBody(m.body, m.format === 'otlp-json' ? 'json' : 'protobuf', anonymiser, rates, { ...(m.maxDataPoints !== undefined ? { maxDataPoints: m.maxDataPoints } : {}), ...(m.subjects ? { subjects: m.subjects } : {}) });
      parentPort!.postMessage({ id: m.id, result }, 'decoded' in result ? transferOf(result.decoded) : []);
      return;
    }
    const text = Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength).toString('utf8');
    const { format, limits } = m as Extract<DecodeJob, { limits?: BodyLimits }>;
    const decoded = decodeBody(text, format, anonymiser, limits);
    parentPort!.postMessage({ id: m.id, result: decoded }, transferOf(decoded));
  } catch (e) {
    // A refusal (400, 413) keeps its code, message and details across; anything else is ours.
    if (e instanceof AppError) parentPort!.postMessage({ id: m.id, appError: { code: e.code, message: e.message, details: e.details } });
    else parentPort!.postMessage({ id: m.id, error: e instanceof Error ? e.message : String(e) });
  }
});
