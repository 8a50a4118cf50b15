import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { openPrescient } from '../../app/open-prescient.js';
import { floodBody } from '../../../test/support/flood-body.js';
import { createApp, listen } from '../app.js';
import { healthRoutes } from './health.js';
import { telemetryRoutes } from './telemetry.js';

test('/readyz answers 200 at once while one large body is being stored in SQLite (ping does not wait for its commit)', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'prescient-readyz-large-write-'));
  const ingestion = await (await openPrescient({ home: dir })).ingestion();
  const { store } = ingestion;
  // When the store is writing: the real write, timed from its call to its commit (the ingestor calls these methods of this object).
  const writing: { from: number; to?: number }[] = [];
  for (const name of ['write', 'writeResourceColumns'] as const) {
    const real = store[name].bind(store) as (...args: unknown[]) => Promise<never>;
    (store as unknown as Record<string, unknown>)[name] = async (...args: unknown[]) => {
      const span: { from: number; to?: number } = { from: performance.now() };
      writing.push(span);
      try {
        return await real(...args);
      } finally {
        span.to = performance.now();
      }
    };
  }
  const app = createApp({ routes: [telemetryRoutes({ ingestor: ingestion.ingestor, maxBodyBytes: 64 * 1024 * 1024 }), healthRoutes({ readiness: { store: () => store.ping() } })] });
  const { port } = await listen(app, 0);
  try {
    // 64 MiB (`serve --max-body-mib 64`): some 480,000 samples in one transaction, stored in slices for seconds.
    const { body, events } = floodBody(0, 64, 'client:webshop');
    let posting = true;
    // A probe every 25 ms, each on its own (not after the previous answer), as a load balancer's checks are.
    const probes: Promise<{ sent: number; ms: number; status: number }>[] = [];
    const probe = (async () => {
      while (posting) {
        const sent = performance.now();
        probes.push(fetch(`http://127.0.0.1:${port}/readyz`).then(async (r) => (await r.arrayBuffer(), { sent, ms: performance.now() - sent, status: r.status })));
        await sleep(25);
      }
    })();
    const r = await fetch(`http://127.0.0.1:${port}/v1/telemetry`, { method: 'POST', body, headers: { 'content-type': 'application/x-ndjson' } });
    posting = false;
    await probe;
    const answered = await Promise.all(probes);
    const answer = (await r.json()) as { accepted: number };
    assert.equal(r.status, 200, JSON.stringify(answer));
    assert.equal(answer.accepted, events);
    // The write must be long enough to be caught in: it takes seconds, and probes were sent while it was open.
    const longest = writing.reduce((a, w) => (w.to! - w.from > a.to! - a.from ? w : a));
    const writeMs = longest.to! - longest.from;
    const during = answered.filter((p) => p.sent > longest.from && p.sent < longest.to!);
    console.log(`write ${Math.round(writeMs)} ms, ${during.length} probes during it, slowest ${Math.round(Math.max(...during.map((p) => p.ms)))} ms`);
    assert.ok(writeMs > 500 && during.length >= 10, `the write took ${Math.round(writeMs)} ms and ${during.length} probes were sent while it was open: too short to show anything`);
    for (const p of during) {
      assert.equal(p.status, 200, `/readyz answered ${p.status} while the write was open`);
      // The write yields every slice (some 30 ms of SQLite); a ping that waited for the commit would take the rest of the write.
      assert.ok(p.ms < 400, `/readyz took ${Math.round(p.ms)} ms while a ${Math.round(writeMs)} ms write was open: it waited for the write`);
    }
  } finally {
    await app.close();
    await ingestion.close();
    await rm(dir, { recursive: true, force: true });
  }
});
