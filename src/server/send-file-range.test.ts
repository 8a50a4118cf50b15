import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { createServer, get, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AppError } from '../core/errors.js';
import { sendFileRange } from './send-file-range.js';

// Far more than the sender's buffers and the loopback socket's (several MiB), and not a multiple of them: reuse and the last short read both happen.
const content = randomBytes(32 * 1024 * 1024 + 12_345);

describe('sendFileRange', () => {
  let dir: string;
  let server: Server;
  let base: string;
  /** What each request's sendFileRange ended with: undefined (resolved) or its error. */
  const outcomes: Promise<unknown>[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'send-file-range-'));
    const path = join(dir, 'blob');
    await writeFile(path, content);
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const start = Number(url.searchParams.get('start') ?? 0);
      const end = Number(url.searchParams.get('end') ?? content.length - 1);
      res.writeHead(200, { 'content-length': end - start + 1 });
      const outcome = (async () => {
        const file = await open(path, 'r');
        try {
          await sendFileRange({ res, file, start, end });
        } finally {
          await file.close();
        }
      })().then(
        () => undefined,
        (e: unknown) => {
          res.destroy();
          return e;
        },
      );
      outcomes.push(outcome);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const a = server.address();
    base = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  const request = (query: string): Promise<IncomingMessage> =>
    new Promise((resolve, reject) => {
      const r = get(`${base}/?${query}`, resolve);
      r.on('error', reject);
    });

  /** A reader slower than the server, so every buffer is written while the next is read: reuse too early would corrupt the bytes. */
  async function slowBody(res: IncomingMessage): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const chunk of res) {
      parts.push(chunk as Buffer);
      if (parts.length % 8 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    return Buffer.concat(parts);
  }

  test('sends the whole file, byte for byte, to a slow reader', async () => {
    const body = await slowBody(await request(''));
    assert.equal(body.length, content.length);
    assert.ok(body.equals(content), 'bytes differ from the file');
    assert.equal(await outcomes.at(-1), undefined);
  });

  test('sends exactly the range asked, across buffer boundaries', async () => {
    const start = 524_287;
    const end = 3 * 524_288 + 17;
    const body = await slowBody(await request(`start=${start}&end=${end}`));
    assert.ok(body.equals(content.subarray(start, end + 1)), 'range bytes differ from the file');
    const last = await slowBody(await request(`start=${content.length - 1}&end=${content.length - 1}`));
    assert.deepEqual([...last], [content.at(-1)]);
  });

  test('a client that goes away ends the send quietly, and the next request is served', async () => {
    const res = await request('');
    await new Promise<void>((resolve) => res.once('data', () => resolve()));
    res.destroy();
    assert.equal(await outcomes.at(-1), undefined);
    const body = await slowBody(await request(''));
    assert.ok(body.equals(content));
  });

  test('a file shorter than the range is an error, not a short body passed off as complete', async () => {
    const res = await request(`start=0&end=${content.length + 100}`);
    const ended = slowBody(res).then(
      () => 'complete',
      () => 'broken',
    );
    const e = await outcomes.at(-1);
    assert.ok(e instanceof AppError, `expected an AppError, got ${String(e)}`);
    assert.match(e.message, /file ended at byte/);
    assert.equal(await ended, 'broken');
  });
});
