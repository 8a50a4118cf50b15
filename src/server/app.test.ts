import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { AppError } from '../core/errors.js';
import { createApp, listen, type App } from './app.js';

/** What a raw socket got back for exactly these bytes (no client library normalises them). */
export function rawRequest(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let out = '';
    socket.setEncoding('latin1');
    socket.on('data', (c: string) => (out += c));
    socket.on('end', () => resolve(out));
    socket.on('close', () => resolve(out));
    socket.on('error', reject);
    socket.end(bytes);
  });
}

let app: App;
let port: number;
const logged: Record<string, unknown>[] = [];
const loggedLines: string[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    for (const line of chunk.toString().split('\n')) if (line) logged.push(JSON.parse(line) as Record<string, unknown>), loggedLines.push(line);
    done();
  },
});

before(async () => {
  app = createApp({
    logger: pino({ level: 'info' }, sink),
    routes: [
      [
        { method: 'GET', path: '/ok', scope: 'public', summary: 'ok', handler: ({ res }) => void res.end('fine') },
        {
          method: 'GET',
          path: '/boom',
          scope: 'public',
          summary: 'fails',
          handler: () => {
            throw new Error('secret path /etc/shadow in an internal message');
          },
        },
        {
          method: 'GET',
          path: '/refused',
          scope: 'public',
          summary: 'refuses',
          handler: () => {
            throw new AppError('FORBIDDEN', 'not yours', { details: { rule: 'client-own' } });
          },
        },
        {
          method: 'POST',
          path: '/upload',
          scope: 'public',
          summary: 'refuses every body before reading it',
          handler: () => {
            throw new AppError('PAYLOAD_TOO_LARGE', 'body: not read here', { details: { field: 'body' } });
          },
        },
      ],
    ],
  });
  port = (await listen(app, 0)).port;
});
after(() => app.close());

test('request lines that crashed the old server answer 400 and the server keeps serving (finding 3)', async () => {
  const lines = ['GET // HTTP/1.1', 'GET /// HTTP/1.1', 'GET //@ HTTP/1.1', 'GET /\\\\ HTTP/1.1', 'GET http://[ HTTP/1.1', 'GET //evil.example/x HTTP/1.1', 'GET /\\evil HTTP/1.1', 'GET * HTTP/1.1', 'GET /%zz HTTP/1.1'];
  for (const line of lines) {
    const answer = await rawRequest(port, `${line}\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
    assert.match(answer, /^HTTP\/1\.1 400 /, `${line} → ${answer.slice(0, 200)}`);
    assert.match(answer, /request target|request:/, line);
    const ok = await fetch(`http://127.0.0.1:${port}/ok`);
    assert.equal(await ok.text(), 'fine', `server stopped serving after ${line}`);
  }
  // Garbage that is not HTTP at all.
  assert.match(await rawRequest(port, '\x00\x01\x02 nonsense\r\n\r\n'), /^HTTP\/1\.1 400 /);
  assert.equal((await fetch(`http://127.0.0.1:${port}/ok`)).status, 200);
});

test('an unexpected error is logged with its stack and answered 500 without internals; requests are logged with id, status and duration', async () => {
  const r = await fetch(`http://127.0.0.1:${port}/boom`, { headers: { 'x-request-id': 'req-boom-1' } });
  assert.equal(r.status, 500);
  assert.equal(r.headers.get('x-request-id'), 'req-boom-1');
  const text = await r.text();
  assert.doesNotMatch(text, /shadow|secret/);
  assert.match(text, /req-boom-1/);
  await new Promise((resolve) => setTimeout(resolve, 50));
  const error = logged.find((l) => l['msg'] === 'unexpected error' && l['reqId'] === 'req-boom-1');
  assert.ok(error, JSON.stringify(logged));
  assert.match(String((error['err'] as { stack?: string }).stack), /secret path[\s\S]*app\.test/);
  const line = logged.find((l) => l['msg'] === 'request' && l['reqId'] === 'req-boom-1');
  assert.equal(line?.['status'], 500);
  assert.equal(typeof line?.['ms'], 'number');
  // One key once per line: a log collector may keep the first of two, or refuse the line.
  const lines = loggedLines.filter((l) => l.includes('req-boom-1'));
  assert.equal(lines.length, 2, lines.join('\n'));
  for (const l of lines) assert.equal(l.split('"reqId"').length - 1, 1, l);
});

test('a refusal names its rule; unknown paths 404 and known paths with another method 405', async () => {
  const refused = await fetch(`http://127.0.0.1:${port}/refused`);
  assert.equal(refused.status, 403);
  assert.deepEqual(((await refused.json()) as { details: unknown }).details, { rule: 'client-own' });
  assert.equal((await fetch(`http://127.0.0.1:${port}/nowhere`)).status, 404);
  const r405 = await fetch(`http://127.0.0.1:${port}/ok`, { method: 'DELETE' });
  assert.equal(r405.status, 405);
  assert.equal(((await r405.json()) as { error: string }).error, 'METHOD_NOT_ALLOWED');
  const id = (await fetch(`http://127.0.0.1:${port}/ok`)).headers.get('x-request-id');
  assert.match(id ?? '', /^[0-9a-f-]{36}$/);
});

test('the lingering close is bounded: a client that trickles a huge body is cut off', { timeout: 20_000 }, async () => {
  const answer = await new Promise<string>((resolve) => {
    // Half-open allowed: the client does not answer the server's FIN with its own, so only the bound closes the socket.
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let out = '';
    socket.setEncoding('latin1');
    socket.on('data', (c: string) => (out += c));
    socket.on('error', () => undefined);
    // Once the server has closed, the next chunk is answered with RST and the socket closes.
    const trickle = setInterval(() => socket.write('x'.repeat(1000)), 100);
    socket.on('close', () => {
      clearInterval(trickle);
      resolve(out);
    });
    socket.write(`POST /upload HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: ${64 * 1024 * 1024}\r\n\r\n`);
  });
  assert.match(answer, /^HTTP\/1\.1 413 /);
});
