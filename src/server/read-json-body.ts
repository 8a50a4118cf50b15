import type { IncomingMessage } from 'node:http';
import { AppError, ValidationError } from '../core/errors.js';

/** A request's JSON body, at most `max` bytes; an empty body is `{}`. */
export async function readJsonBody(req: IncomingMessage, max = 64 * 1024): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) throw new AppError('PAYLOAD_TOO_LARGE', `body: exceeds ${max} bytes`, { details: { field: 'body', rule: 'max-body-bytes', maxBytes: max } });
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ValidationError('body', `not JSON: ${(e as Error).message}`);
  }
}
