import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError, ValidationError } from '../core/errors.js';
import { makePrivateDir } from '../core/private-file.js';

/**
 * Fetches a URL into `file` (0600), refusing more than `maxBytes`: the dataset catalogue's copy
 * of remote data, taken once when the admin registers it, so that planning never goes to the
 * network and the data module reads a local, capped, digest-checked file like any other.
 */
export async function fetchCapped(url: string, file: string, maxBytes: number, signal?: AbortSignal): Promise<string> {
  const res = await fetch(url, { redirect: 'follow', ...(signal ? { signal } : {}) }).catch((e: unknown) => {
    throw new AppError('EXTERNAL_TOOL', `fetching ${url}: ${(e as Error).message}`, { cause: e });
  });
  if (!res.ok || !res.body) throw new AppError('EXTERNAL_TOOL', `fetching ${url}: HTTP ${res.status}`);
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) {
    await res.body.cancel();
    throw new ValidationError('--max-size', `${url} is ${declared} bytes, over the cap of ${maxBytes}`);
  }
  await makePrivateDir(dirname(file));
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  let seen = 0;
  const cap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      done(seen > maxBytes ? new ValidationError('--max-size', `${url} sends more than the cap of ${maxBytes} bytes`) : null, chunk);
    },
  });
  try {
    await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), cap, createWriteStream(tmp, { mode: 0o600 }), ...(signal ? [{ signal }] : []));
    await rename(tmp, file);
    return file;
  } finally {
    await rm(tmp, { force: true });
  }
}
