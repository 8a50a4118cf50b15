import { parentPort, workerData } from 'node:worker_threads';
import { createAnonymiser, type AnonymiserOptions } from './anonymise.js';
import { decodeBody, type BodyFormat, type BodyLimits } from './decoded-body.js';

/**
 * The thread half of createDecodePool: the same anonymiser as the main thread (same keys, same
 * prefixes), so what comes back is already anonymised: no identifier in clear crosses back.
 */
const options = workerData as AnonymiserOptions;
const anonymiser = createAnonymiser(options);
parentPort!.on('message', (m: { id: number; body: Uint8Array; format: BodyFormat; limits?: BodyLimits }) => {
  try {
    const text = Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength).toString('utf8');
    const decoded = decodeBody(text, m.format, anonymiser, m.limits);
    const transfer = [...decoded.resources.flatMap((r) => [r.time.buffer, r.values.buffer, r.subjectOf!.buffer]), ...decoded.resourcePositions.map((p) => p.buffer)];
    parentPort!.postMessage({ id: m.id, decoded }, transfer as ArrayBuffer[]);
  } catch (e) {
    parentPort!.postMessage({ id: m.id, error: e instanceof Error ? e.message : String(e) });
  }
});
