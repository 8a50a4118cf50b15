import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { openPrescient } from '../../app/open-prescient.js';
import { checkOtlpMetrics } from '../../telemetry/formats/otlp.js';
import type { Ingestion } from '../../telemetry/open-ingestion.js';
import { createApp, listen, type App } from '../app.js';
import { telemetryRoutes } from './telemetry.js';

let app: App;
let base: string;
let ingestion: Ingestion;
let dir: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'prescient-telemetry-otlp-thread-'));
  ingestion = await (await openPrescient({ home: dir })).ingestion();
  app = createApp({ routes: [telemetryRoutes({ ingestor: ingestion.ingestor })] });
  base = `http://127.0.0.1:${(await listen(app, 0)).port}`;
});
after(async () => {
  await app.close();
  await ingestion.close();
  await rm(dir, { recursive: true, force: true });
});

/** One host's CPU utilisation, `points` moments of it (a Collector's backlog), in the OTLP JSON mapping: some 11 MiB for 100,000. */
function otlpJson(points: number): string {
  const t0 = BigInt(Date.UTC(2026, 0, 1)) * 1_000_000n;
  const dataPoints = Array.from({ length: points }, (_, i) => ({ timeUnixNano: String(t0 + BigInt(i) * 60_000_000_000n), asDouble: 0.25, attributes: [{ key: 'state', value: { stringValue: 'user' } }] }));
  return JSON.stringify({
    resourceMetrics: [{ resource: { attributes: [{ key: 'host.name', value: { stringValue: 'otlp-thread-host' } }, { key: 'prescient.source', value: { stringValue: 'hypervisor' } }] }, scopeMetrics: [{ metrics: [{ name: 'system.cpu.utilization', gauge: { dataPoints } }] }] }],
  });
}

test('a large OTLP/HTTP JSON body is parsed and validated on a decoding thread: the event loop is held far less than parsing it here takes, and its samples are stored', async (t) => {
  const body = otlpJson(100_000);
  // What parsing and validating it costs on this thread (what the route did before).
  const t0 = performance.now();
  checkOtlpMetrics(JSON.parse(body));
  const here = performance.now() - t0;

  let worst = 0;
  let last = performance.now();
  const tick = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }, 5);
  try {
    const r = await fetch(`${base}/v1/metrics`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    const text = await r.text();
    assert.equal(r.status, 200, text);
    assert.deepEqual(JSON.parse(text), {});
  } finally {
    clearInterval(tick);
  }
  t.diagnostic(`event loop held at most ${Math.round(worst)} ms; parsing and validating here: ${Math.round(here)} ms`);
  assert.ok(worst < here / 2, `the event loop was held ${Math.round(worst)} ms; parsing here takes ${Math.round(here)} ms`);
  assert.equal((await ingestion.store.counts()).resource, 100_000);
});

test('an OTLP body refused on the decoding thread keeps its answer: invalid JSON is 400 naming the body, too many data points 413', async () => {
  const bad = await fetch(`${base}/v1/metrics`, { method: 'POST', body: '{"resourceMetrics": [', headers: { 'content-type': 'application/json' } });
  assert.equal(bad.status, 400);
  assert.match(((await bad.json()) as { message: string }).message, /^body: not valid JSON/);
  const empty = JSON.stringify({ resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'x', gauge: { dataPoints: Array.from({ length: 200_001 }, () => ({})) } }] }] }] });
  const many = await fetch(`${base}/v1/metrics`, { method: 'POST', body: empty, headers: { 'content-type': 'application/json' } });
  assert.equal(many.status, 413);
  const status = (await many.json()) as { details: { metadata: Record<string, string> }[] };
  assert.equal(status.details[0]!.metadata['rule'], 'max-data-points');
});
