import type { FileHandle } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { AppError } from '../core/errors.js';

/**
 * Read size and read-ahead of a file sent over HTTP. Measured on this project's 2-core machine
 * (bench/registry-pull, docs in src/registry/README.md): a few buffers reused for the whole
 * response, each small enough to stay in the L2 cache between the file read and the socket
 * write, pulled about twice as fast as `createReadStream(…).pipe(res)`, which allocates a fresh
 * 4 MiB buffer per chunk (≈30 000 page faults per GiB, each zeroing a page) and so spent more of
 * its time in the kernel than in copying.
 */
const chunkBytes = 512 << 10;
const buffers = 2;

export interface SendFileRangeOptions {
  res: ServerResponse;
  /** Open for reading; the caller closes it. */
  file: FileHandle;
  /** First byte sent. */
  start: number;
  /** Last byte sent (inclusive, as in a Content-Range). */
  end: number;
  signal?: AbortSignal;
}

/**
 * Write bytes start..end of an open file as the response body (headers already written) and end
 * the response. A buffer is read into again only once the socket took its previous contents, so
 * the response's memory is bounded (`buffers × chunkBytes`) whatever the client's speed. Resolves
 * early, without an error, when the client goes away; rejects when the file ends before `end`.
 */
export async function sendFileRange(options: SendFileRangeOptions): Promise<void> {
  const { res, file, end, signal } = options;
  const pool = Array.from({ length: buffers }, () => Buffer.allocUnsafeSlow(chunkBytes));
  const written: Promise<Error | null | undefined>[] = pool.map(() => Promise.resolve(null));
  // A destroyed socket may never call back a pending write: the close is the other way out.
  const closed = new Promise<Error>((resolve) => res.once('close', () => resolve(new Error('closed'))));
  let position = options.start;
  for (let i = 0; position <= end; i = (i + 1) % buffers) {
    const failed = await Promise.race([written[i]!, closed]);
    if (failed || res.destroyed || signal?.aborted) return;
    const buffer = pool[i]!;
    const { bytesRead } = await file.read(buffer, 0, Math.min(chunkBytes, end + 1 - position), position);
    if (bytesRead === 0) throw new AppError('INTERNAL', `file ended at byte ${position}, before byte ${end} of the response`);
    position += bytesRead;
    const chunk = bytesRead === chunkBytes ? buffer : buffer.subarray(0, bytesRead);
    written[i] = new Promise((resolve) => res.write(chunk, resolve));
  }
  await Promise.race([Promise.all(written), closed]);
  if (!res.destroyed) res.end();
}
