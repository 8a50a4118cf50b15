import type { IncomingMessage, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';

const gzipAsync = promisify(gzip);
/** Below one packet compression saves nothing. */
const minBytes = 1400;

export function acceptsGzip(req: IncomingMessage): boolean {
  return /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
}

/**
 * A body gzipped when the caller accepts it: the dashboard's answers for a fleet of a thousand
 * clients are a few hundred KiB of repetitive JSON, a tenth of that compressed.
 */
export async function sendCompressed(req: IncomingMessage, res: ServerResponse, status: number, body: Buffer, headers: Record<string, string>): Promise<void> {
  const zipped = body.length >= minBytes && acceptsGzip(req) ? await gzipAsync(body, { level: 6 }) : undefined;
  res.writeHead(status, { ...headers, vary: 'accept-encoding', 'content-length': (zipped ?? body).length, ...(zipped ? { 'content-encoding': 'gzip' } : {}) });
  res.end(req.method === 'HEAD' ? undefined : (zipped ?? body));
}

export function sendJsonCompressed(req: IncomingMessage, res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): Promise<void> {
  return sendCompressed(req, res, status, Buffer.from(JSON.stringify(value)), { 'content-type': 'application/json', ...headers });
}
