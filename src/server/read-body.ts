import type { IncomingMessage } from 'node:http';
import { createGunzip, createInflate } from 'node:zlib';
import type { Readable } from 'node:stream';
import { AbortedError, AppError } from '../core/errors.js';

export interface ReadBodyOptions {
  /** Limit on the decoded body; a gzip bomb is stopped at this many bytes too. */
  maxBytes: number;
  signal?: AbortSignal;
  /** Told the decoded size so far before each chunk is kept; may throw to refuse the rest (admission: ingest-admission.ts). */
  hold?: (bytes: number) => void;
}

/**
 * The whole request body, decoded from `content-encoding` gzip or deflate. Over the limit it
 * throws PAYLOAD_TOO_LARGE (413) as soon as that is known; an unknown encoding is 415.
 */
export async function readBody(req: IncomingMessage, options: ReadBodyOptions): Promise<Buffer> {
  const { maxBytes } = options;
  const tooLarge = (): AppError => new AppError('PAYLOAD_TOO_LARGE', `body: exceeds ${maxBytes} bytes (after decompression)`, { details: { field: 'body', rule: 'max-body-bytes', maxBytes } });
  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase().trim();
  let stream: Readable;
  if (encoding === 'identity' || encoding === '') {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBytes) throw drain(req, tooLarge());
    stream = req;
  } else if (encoding === 'gzip' || encoding === 'x-gzip') stream = req.pipe(createGunzip());
  else if (encoding === 'deflate') stream = req.pipe(createInflate());
  else throw drain(req, new AppError('UNSUPPORTED_MEDIA_TYPE', `content-encoding: ${JSON.stringify(encoding)} is not supported (use gzip, deflate or none)`, { details: { field: 'content-encoding' } }));

  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      if (options.signal?.aborted) throw new AbortedError('reading the request body');
      size += (chunk as Buffer).length;
      if (size > maxBytes) throw tooLarge();
      options.hold?.(size);
      chunks.push(chunk as Buffer);
    }
  } catch (e) {
    if (e instanceof AppError) throw drain(req, e);
    throw drain(req, new AppError('VALIDATION', `body: could not be decoded (${encoding}): ${(e as Error).message}`, { details: { field: 'body', rule: 'content-encoding' } }));
  }
  return Buffer.concat(chunks, size);
}

/** Lets the client finish sending (so it reads our answer), without keeping what it sends. */
function drain(req: IncomingMessage, e: AppError): AppError {
  req.unpipe();
  req.resume();
  return e;
}

/** The media type of a request without parameters, lower-cased (`application/json`). */
export function mediaType(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}
