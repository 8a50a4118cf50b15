import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { paths } from '../../core/config.js';
import { openSqliteStore } from '../../store/sqlite/sqlite-store.js';
import { basicAuth } from '../../../test/support/basic-auth.js';
import { prescient } from '../../../test/support/cli.js';
import { floodBody } from '../../../test/support/flood-body.js';
import { startServe } from '../../../test/support/serve.js';


/** One POST on a connection of its own (a flooder opens many); never rejects, the status says. */
function post(port: number, body: Buffer, authorization: string): Promise<{ status: number; retryAfter?: string; json: Record<string, any> }> {
  return new Promise((resolve) => {
    const agent = new Agent({ keepAlive: false });
    const req = request({ host: '127.0.0.1', port, path: '/v1/telemetry', method: 'POST', agent, headers: { 'content-type': 'application/x-ndjson', 'content-length': body.length, authorization } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        const retryAfter = res.headers['retry-after'];
        resolve({ status: res.statusCode ?? 0, ...(retryAfter !== undefined ? { retryAfter } : {}), json: JSON.parse(text) as Record<string, any> });
      });
    });
    req.on('error', (e) => resolve({ status: 0, json: { error: e.message } }));
    req.end(body);
  });
}

test('one credential flooding 16 MiB bodies: /healthz answers within 2 s throughout, another client still posts, the flooder gets 429s with Retry-After, and every event it sent is stored exactly once', { timeout: 300_000 }, async () => {
  const home = mkdtempSync(join(tmpdir(), 'prescient-telemetry-flood-'));
  try {
    const issue = async (id: string) => {
      const r = await prescient(home, ['credentials', 'issue', id]);
      assert.equal(r.code, 0, r.stderr);
      return basicAuth(r.json as { username: string; secret: string });
    };
    const flooder = await issue('webshop');
    const other = await issue('ledger');
    // The default limits: 16 MiB bodies, 32 MiB in flight per credential.
    const serve = await startServe(home);
    // Made before the probe starts: building 160 MiB of JSON here would stall the probe, not the server.
    const bodies = Array.from({ length: 10 }, (_, k) => floodBody(k, 16, 'client:webshop'));
    const sent = bodies.reduce((n, b) => n + b.events, 0);
    let healthWorst = 0;
    let probing = true;
    const probe = (async () => {
      while (probing) {
        const t = performance.now();
        const r = await fetch(`${serve.url}/healthz`);
        await r.arrayBuffer();
        healthWorst = Math.max(healthWorst, performance.now() - t);
        await sleep(100);
      }
    })();
    try {
      let refused = 0;
      let accepted = 0;
      const small = [0, 1, 2, 3, 4].map((i) => JSON.stringify({ kind: 'resource', time: Date.UTC(2025, 0, 1) + i * 1000, subject: 'client:ledger', source: 'hypervisor', cpuPercent: 5 })).join('\n');
      const [, otherAnswer] = await Promise.all([
        // The flooder sends everything at once, then sends again what was refused, after the Retry-After it was told.
        Promise.all(
          bodies.map(async ({ body, events }) => {
            for (;;) {
              const r = await post(serve.port, body, flooder);
              if (r.status === 200) {
                assert.equal(r.json['accepted'], events);
                assert.equal(r.json['alreadyStored'], 0, 'a body was stored twice');
                accepted += events;
                return;
              }
              assert.equal(r.status, 429, JSON.stringify(r.json));
              assert.equal(r.json['error'], 'TOO_MANY_REQUESTS');
              assert.match(r.retryAfter ?? '', /^[1-9]\d*$/, 'a 429 without Retry-After');
              refused++;
              await sleep(Number(r.retryAfter) * 1000);
            }
          }),
        ),
        // Another client, in the middle of it.
        sleep(500).then(() => post(serve.port, Buffer.from(small), other)),
      ]);
      assert.equal(otherAnswer.status, 200, JSON.stringify(otherAnswer.json));
      assert.equal(otherAnswer.json['accepted'], 5);
      assert.ok(refused > 0, 'the flooder was never refused');
      assert.equal(accepted, sent);
      probing = false;
      await probe;
      assert.ok(healthWorst < 2000, `GET /healthz took ${Math.round(healthWorst)} ms during the flood`);
    } finally {
      probing = false;
      await probe.catch(() => undefined);
      await serve.stop();
    }
    // Stored: every event of every body once, and the other client's five; nothing else.
    const store = openSqliteStore({ file: paths(home).store });
    try {
      assert.equal((await store.counts()).resource, sent + 5);
    } finally {
      await store.close();
    }
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
