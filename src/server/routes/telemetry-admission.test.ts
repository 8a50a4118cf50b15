import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { request, type ClientRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Grants } from '../../grants/grants.js';
import { openPrescient } from '../../app/open-prescient.js';
import type { Ingestion } from '../../telemetry/open-ingestion.js';
import { createApp, listen, type App } from '../app.js';
import { basicAuth } from '../../../test/support/basic-auth.js';
import { readOtlpStatus } from '../../../test/support/otlp-status.js';
import { createServerMetrics } from '../metrics.js';
import { healthRoutes } from './health.js';
import { openApiRoutes } from './openapi-route.js';
import { telemetryRoutes } from './telemetry.js';

let app: App;
let port: number;
let ingestion: Ingestion;
let dir: string;
let webshop: string;
let ledger: string;
let blog: string;

// Small bounds, so that one unfinished body fills a credential's share: 1 MiB bodies, 1 MiB per credential, 2 MiB in all.
const MiB = 1024 * 1024;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'prescient-telemetry-admission-'));
  ingestion = await (await openPrescient({ home: dir })).ingestion();
  const grants = await Grants.open({ secretsDir: join(dir, 'secrets') });
  webshop = basicAuth(await grants.credentials.issue('webshop'));
  ledger = basicAuth(await grants.credentials.issue('ledger'));
  blog = basicAuth(await grants.credentials.issue('blog'));
  const metrics = createServerMetrics({ version: '0.0.0' });
  const telemetry = telemetryRoutes({ ingestor: ingestion.ingestor, maxBodyBytes: MiB, limits: { bytes: 2 * MiB, bytesPerCredential: MiB, requests: 64, requestsPerCredential: 3 }, metrics });
  app = createApp({
    routes: [telemetry, healthRoutes({ metrics }), openApiRoutes({ routes: [telemetry], version: '0.0.0' })],
    auth: grants.edgeAuth(),
  });
  port = (await listen(app, 0)).port;
});
after(async () => {
  await app.close();
  await ingestion.close();
  await rm(dir, { recursive: true, force: true });
});

const sample = (client: string, i: number) => JSON.stringify({ kind: 'resource', time: Date.UTC(2026, 0, 1) + i * 1000, subject: `client:${client}`, source: 'hypervisor', cpuPercent: 7 });

/** A body that declares `length` bytes and sends only `first` of them: it holds its share until ended. */
function unfinished(path: string, authorization: string, length: number, first: string): ClientRequest {
  const req = request({ host: '127.0.0.1', port, path, method: 'POST', headers: { 'content-type': 'application/x-ndjson', 'content-length': length, authorization } });
  req.on('error', () => undefined);
  req.write(first);
  return req;
}

test('a credential with a body in flight that fills its share gets 429 with Retry-After (JSON, and OTLP protobuf with RetryInfo); another credential does not; once the body is in, the next is taken', async () => {
  const first = sample('webshop', 0);
  const held = unfinished('/v1/telemetry', webshop, MiB, first);
  await sleep(200);
  const body = sample('webshop', 1);
  const r = await fetch(`http://127.0.0.1:${port}/v1/telemetry`, { method: 'POST', body, headers: { 'content-type': 'application/x-ndjson', authorization: webshop } });
  assert.equal(r.status, 429);
  assert.equal(r.headers.get('retry-after'), '1');
  const json = (await r.json()) as Record<string, any>;
  assert.equal(json['error'], 'TOO_MANY_REQUESTS');
  assert.equal(json['details'].rule, 'ingest-in-flight');
  assert.equal(json['details'].limit, 'bytesPerCredential');
  assert.match(json['message'], /this credential's telemetry in flight would pass 1 MiB/);

  // OTLP/HTTP: 429, Retry-After, and a google.rpc.Status whose RetryInfo says the same (RESOURCE_EXHAUSTED is retryable only with one).
  const otlp = await fetch(`http://127.0.0.1:${port}/v1/metrics`, { method: 'POST', body: new Uint8Array(16), headers: { 'content-type': 'application/x-protobuf', authorization: webshop } });
  assert.equal(otlp.status, 429);
  assert.equal(otlp.headers.get('retry-after'), '1');
  assert.equal(otlp.headers.get('content-type'), 'application/x-protobuf');
  const status = readOtlpStatus(new Uint8Array(await otlp.arrayBuffer()));
  assert.equal(status.code, 8);
  assert.equal(status.details.find((d) => d.typeUrl.endsWith('/google.rpc.ErrorInfo'))?.reason, 'TOO_MANY_REQUESTS');
  assert.equal(status.details.find((d) => d.typeUrl.endsWith('/google.rpc.RetryInfo'))?.retryDelaySeconds, 1);
  const otlpJson = await fetch(`http://127.0.0.1:${port}/v1/metrics`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json', authorization: webshop } });
  assert.equal(otlpJson.status, 429);
  const statusJson = (await otlpJson.json()) as { details: Record<string, string>[] };
  assert.deepEqual(statusJson.details.find((d) => d['@type'] === 'type.googleapis.com/google.rpc.RetryInfo'), { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '1s' });

  // Another credential has its own share.
  const other = await fetch(`http://127.0.0.1:${port}/v1/telemetry`, { method: 'POST', body: sample('ledger', 0), headers: { 'content-type': 'application/x-ndjson', authorization: ledger } });
  assert.equal(other.status, 200, await other.text());

  // The held body ends (padded with blank lines to its declared length): it is stored, and its share is free again.
  const answered = new Promise<number>((resolve) => held.on('response', (res) => (res.resume(), resolve(res.statusCode ?? 0))));
  held.end('\n'.repeat(MiB - Buffer.byteLength(first)));
  assert.equal(await answered, 200);
  const again = await fetch(`http://127.0.0.1:${port}/v1/telemetry`, { method: 'POST', body, headers: { 'content-type': 'application/x-ndjson', authorization: webshop } });
  assert.equal(again.status, 200, await again.text());
});

test('a body that is refused or abandoned halfway stores nothing and gives its share back', async () => {
  const before = await ingestion.store.counts();
  const held = unfinished('/v1/telemetry', webshop, MiB, `${sample('webshop', 100)}\n${sample('webshop', 101)}\n`);
  await sleep(200);
  held.destroy();
  await sleep(200);
  assert.deepEqual(await ingestion.store.counts(), before);
  // Requests are bounded too: three bodies of one credential in flight, the fourth is refused.
  const three = [0, 1, 2].map((i) => unfinished('/v1/telemetry', webshop, 10, `${i}`));
  await sleep(200);
  const fourth = await fetch(`http://127.0.0.1:${port}/v1/telemetry`, { method: 'POST', body: sample('webshop', 102), headers: { 'content-type': 'application/x-ndjson', authorization: webshop } });
  assert.equal(fourth.status, 429);
  assert.equal(((await fourth.json()) as Record<string, any>)['details'].limit, 'requestsPerCredential');
  for (const r of three) r.destroy();
  await sleep(200);
  const fifth = await fetch(`http://127.0.0.1:${port}/v1/telemetry`, { method: 'POST', body: sample('webshop', 102), headers: { 'content-type': 'application/x-ndjson', authorization: webshop } });
  assert.equal(fifth.status, 200, await fifth.text());
});

test('limits that could never take the largest body are refused when the routes are built, naming the field', () => {
  assert.throws(() => telemetryRoutes({ ingestor: ingestion.ingestor, maxBodyBytes: 2 * MiB, limits: { bytesPerCredential: MiB } }), /bytesPerCredential: 1048576 is below the largest body/);
});

/** The admission figures on /metrics: `name{labels} value` lines of the prescient_telemetry_ families. */
async function admissionMetrics(): Promise<{ text: string; value: (series: string) => number }> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const value = (series: string): number => {
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    assert.ok(line, `no series ${series} in /metrics`);
    return Number(line.slice(series.length + 1));
  };
  return { text, value };
}

test('/metrics shows the bytes and requests in flight (totals) and the refusals by the limit that refused, never a credential', async () => {
  const refused = (limit: string) => `prescient_telemetry_refused_total{limit="${limit}"}`;
  const before = await admissionMetrics();
  assert.equal(before.value('prescient_telemetry_inflight_bytes'), 0);
  assert.equal(before.value('prescient_telemetry_inflight_requests'), 0);
  const held = [unfinished('/v1/telemetry', webshop, MiB, sample('webshop', 200)), unfinished('/v1/telemetry', ledger, MiB, sample('ledger', 200))];
  await sleep(200);
  const during = await admissionMetrics();
  assert.equal(during.value('prescient_telemetry_inflight_bytes'), 2 * MiB);
  assert.equal(during.value('prescient_telemetry_inflight_requests'), 2);
  // webshop's share is full (bytesPerCredential); blog's is empty but all callers together hold 2 MiB (bytes).
  const post = (authorization: string, body: string) => fetch(`http://127.0.0.1:${port}/v1/telemetry`, { method: 'POST', body, headers: { 'content-type': 'application/x-ndjson', authorization } });
  assert.equal((await post(webshop, sample('webshop', 201))).status, 429);
  assert.equal((await post(webshop, sample('webshop', 202))).status, 429);
  assert.equal((await post(blog, sample('blog', 0))).status, 429);
  const after = await admissionMetrics();
  assert.equal(after.value(refused('bytesPerCredential')) - before.value(refused('bytesPerCredential')), 2);
  assert.equal(after.value(refused('bytes')) - before.value(refused('bytes')), 1);
  assert.equal(after.value(refused('requests')), before.value(refused('requests')));
  assert.match(after.text, /^# TYPE prescient_telemetry_refused_total counter$/m);
  assert.match(after.text, /^# TYPE prescient_telemetry_inflight_bytes gauge$/m);
  // Totals only: no series names a caller.
  const admission = after.text.split('\n').filter((l) => l.startsWith('prescient_telemetry_'));
  assert.ok(admission.length >= 6, admission.join('\n'));
  for (const l of admission) assert.doesNotMatch(l, /webshop|ledger|blog|client|credential=/, l);
  for (const r of held) r.destroy();
  await sleep(200);
  const done = await admissionMetrics();
  assert.equal(done.value('prescient_telemetry_inflight_bytes'), 0);
  assert.equal(done.value('prescient_telemetry_inflight_requests'), 0);
});

test('/openapi.json lists the 429 on both telemetry routes, with Retry-After and the body each answers, and a real 429 has them', async () => {
  type Response429 = { headers: Record<string, { required: boolean }>; content: Record<string, { schema: { required?: string[] } }> };
  const doc = (await (await fetch(`http://127.0.0.1:${port}/openapi.json`)).json()) as { paths: Record<string, Record<string, { responses: Record<string, Response429> }>> };
  const held = unfinished('/v1/telemetry', webshop, MiB, sample('webshop', 300));
  await sleep(200);
  const answers = {
    '/v1/telemetry': { 'application/json': await fetch(`http://127.0.0.1:${port}/v1/telemetry`, { method: 'POST', body: sample('webshop', 301), headers: { 'content-type': 'application/x-ndjson', authorization: webshop } }) },
    '/v1/metrics': {
      'application/json': await fetch(`http://127.0.0.1:${port}/v1/metrics`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json', authorization: webshop } }),
      'application/x-protobuf': await fetch(`http://127.0.0.1:${port}/v1/metrics`, { method: 'POST', body: new Uint8Array(16), headers: { 'content-type': 'application/x-protobuf', authorization: webshop } }),
    },
  };
  held.destroy();
  for (const [path, byType] of Object.entries(answers)) {
    const documented = doc.paths[path]!['post']!.responses['429'];
    assert.ok(documented, `${path}: no 429 in the OpenAPI document`);
    assert.equal(documented.headers['Retry-After']?.required, true, path);
    assert.deepEqual(Object.keys(documented.content).sort(), Object.keys(byType).sort(), path);
    for (const [type, r] of Object.entries(byType)) {
      assert.equal(r.status, 429, `${path} ${type}`);
      assert.match(r.headers.get('retry-after') ?? '', /^[1-9]\d*$/, `${path} ${type}`);
      assert.equal(r.headers.get('content-type'), type, `${path} ${type}`);
      if (type !== 'application/json') continue;
      const body = (await r.json()) as Record<string, unknown>;
      for (const key of documented.content[type]!.schema.required ?? []) assert.ok(key in body, `${path}: the 429 body has no ${key}: ${JSON.stringify(body)}`);
    }
  }
});
