import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { createApp, listen, type App } from './app.js';
import { readJsonBody } from './read-json-body.js';
import { sendJson } from './http-error.js';

let app: App;
let port: number;

before(async () => {
  const count = async ({ req, res }: { req: import('node:http').IncomingMessage; res: import('node:http').ServerResponse }): Promise<void> => {
    let n = 0;
    for await (const c of req) n += (c as Buffer).length;
    sendJson(res, 200, { bytes: n });
  };
  app = createApp({
    bodyDeadline: { totalMs: 1000, idleMs: 600 },
    routes: [
      [
        { method: 'POST', path: '/json', scope: 'public', summary: 'reads a JSON body', handler: async ({ req, res }) => sendJson(res, 200, { got: await readJsonBody(req) }) },
        { method: 'POST', path: '/blob', scope: 'public', summary: 'streams a body', streamsBody: true, handler: count },
      ],
    ],
  });
  ({ port } = await listen(app, 0));
});
after(async () => {
  await app?.close();
});

/**
 * Headers, then the body one byte every `everyMs` (never more than `bytes`), as a slowloris
 * sends it; what came back and when the server closed the socket (or `giveUpMs` passed).
 */
function trickle(input: { path: string; bytes: number; everyMs: number; stallAfter?: number; giveUpMs: number }): Promise<{ text: string; ms: number; closedByServer: boolean }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    let text = '';
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    const done = (closedByServer: boolean): void => {
      clearInterval(timer);
      clearTimeout(giveUp);
      socket.destroy();
      resolve({ text, ms: Date.now() - started, closedByServer });
    };
    const giveUp = setTimeout(() => done(false), input.giveUpMs);
    socket.setEncoding('latin1');
    socket.on('data', (c: string) => (text += c));
    socket.on('error', () => undefined);
    socket.on('close', () => done(true));
    socket.write(`POST ${input.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${input.bytes}\r\n\r\n`);
    timer = setInterval(() => {
      if (sent >= input.bytes || (input.stallAfter !== undefined && sent >= input.stallAfter)) return;
      socket.write(sent === 0 ? '{' : sent === input.bytes - 1 ? '}' : ' ');
      sent++;
    }, input.everyMs);
  });
}

test('a body that trickles in (a byte every 100 ms) is answered 408 naming the body once its total deadline passed, and the socket closes', async () => {
  const r = await trickle({ path: '/json', bytes: 10_000, everyMs: 100, giveUpMs: 8000 });
  assert.ok(r.closedByServer, `the socket was still open after ${r.ms} ms: ${r.text}`);
  assert.match(r.text, /^HTTP\/1\.1 408 /, r.text);
  assert.match(r.text, /"field":"body"/, r.text);
  assert.match(r.text, /"rule":"body-total-timeout"/, r.text);
  assert.ok(r.ms < 5000, `closed after ${r.ms} ms`);
});

test('a body that stops arriving is answered 408 after the idle deadline', async () => {
  const r = await trickle({ path: '/json', bytes: 100, everyMs: 10, stallAfter: 5, giveUpMs: 8000 });
  assert.ok(r.closedByServer, `the socket was still open after ${r.ms} ms`);
  assert.match(r.text, /^HTTP\/1\.1 408 /, r.text);
  assert.match(r.text, /"rule":"body-idle-timeout"/, r.text);
});

test('a route that streams large bodies takes as long as bytes keep coming; a body that arrives in time is answered as usual', async () => {
  const slow = await trickle({ path: '/blob', bytes: 25, everyMs: 80, giveUpMs: 8000 });
  assert.ok(slow.ms > 1000, `${slow.ms} ms: the test must outlast the total deadline`);
  assert.match(slow.text, /^HTTP\/1\.1 200 /, slow.text);
  assert.match(slow.text, /"bytes":25/, slow.text);
  const quick = await fetch(`http://127.0.0.1:${port}/json`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
  assert.deepEqual(await quick.json(), { got: { a: 1 } });
});
