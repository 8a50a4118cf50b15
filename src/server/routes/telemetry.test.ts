import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import generatedRoot from '@opentelemetry/otlp-transformer/build/src/generated/root.js';
import { openPrescient } from '../../app/open-prescient.js';
import type { Ingestion } from '../../telemetry/open-ingestion.js';
import { createApp, listen, type App } from '../app.js';
import { readOtlpStatus } from '../../../test/support/otlp-status.js';
import { telemetryRoutes } from './telemetry.js';

let server: App;
let base: string;
let ingestion: Ingestion;

before(async () => {
  ingestion = await (await openPrescient({ home: mkdtempSync(join(tmpdir(), 'prescient-http-')) })).ingestion();
  server = createApp({ routes: [telemetryRoutes({ ingestor: ingestion.ingestor, maxBodyBytes: 64 * 1024, maxDataPoints: 10_000 })] });
  const addr = await listen(server, 0);
  base = `http://127.0.0.1:${addr.port}`;
});
after(async () => {
  await server?.close();
  await ingestion.close();
});

const post = (path: string, body: string | Buffer, headers: Record<string, string>) =>
  fetch(base + path, { method: 'POST', body, headers }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, any> }));

const sample = (i: number, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ kind: 'resource', time: Date.UTC(2024, 0, 1) + i * 1000, subject: 'vm:http-test', source: 'hypervisor', cpuPercent: i, ...extra });

test('NDJSON: valid lines are stored, bad ones reported by line with a reason, nothing accepted is lost', async () => {
  const before = (await ingestion.store.counts()).resource;
  const body = [sample(1), '{not json', sample(2, { cpuPercent: -5 }), '', sample(3, { kind: 'nope' }), sample(4)].join('\n');
  const r = await post('/v1/telemetry', body, { 'content-type': 'application/x-ndjson' });
  assert.equal(r.status, 200);
  assert.equal(r.body.accepted, 2);
  assert.equal(r.body.rejected, 3);
  assert.deepEqual(
    r.body.errors.map((e: { at: string }) => e.at),
    ['line 2', 'line 3', 'line 5'],
  );
  assert.match(r.body.errors[0].reason, /not valid JSON/);
  assert.match(r.body.errors[1].reason, /cpuPercent/);
  assert.match(r.body.errors[2].reason, /kind/);
  assert.equal((await ingestion.store.counts()).resource, before + 2);
  const rejected = await ingestion.store.rejections();
  assert.deepEqual(rejected.filter((x) => x.reason === 'invalid'), [
    { reason: 'invalid', source: 'hypervisor', count: 2 },
    { reason: 'invalid', source: 'unknown', count: 1 },
  ]);
});

test('a JSON array is accepted, gzip too; positions are indices', async () => {
  const body = gzipSync(`[${sample(10)},${sample(11, { subject: 'bad' })}]`);
  const r = await post('/v1/telemetry', body, { 'content-type': 'application/json; charset=utf-8', 'content-encoding': 'gzip' });
  assert.equal(r.status, 200);
  assert.equal(r.body.accepted, 1);
  assert.deepEqual(r.body.errors.map((e: { at: string }) => e.at), ['index 1']);
  assert.match(r.body.errors[0].reason, /^subject/);
});

test('nothing valid is a 400; a wrong content type 415; an oversized body 413, also when gzipped', async () => {
  assert.equal((await post('/v1/telemetry', '[1,2]', { 'content-type': 'application/json' })).status, 400);
  const r415 = await post('/v1/telemetry', sample(1), { 'content-type': 'text/csv' });
  assert.equal(r415.status, 415);
  assert.equal(r415.body.error, 'UNSUPPORTED_MEDIA_TYPE');
  assert.equal((await post('/v1/metrics', '{}', { 'content-type': 'text/plain' })).status, 415);
  const big = Array.from({ length: 2000 }, (_, i) => sample(i)).join('\n');
  assert.equal((await post('/v1/telemetry', big, { 'content-type': 'application/x-ndjson' })).status, 413);
  // A small gzip that inflates past the limit is stopped too.
  const bomb = gzipSync(Buffer.alloc(10 * 1024 * 1024, 32));
  assert.ok(bomb.length < 64 * 1024);
  const r413 = await post('/v1/telemetry', bomb, { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' });
  assert.equal(r413.status, 413);
  assert.equal(r413.body.error, 'PAYLOAD_TOO_LARGE');
});

const ns = (ms: number) => String(BigInt(ms) * 1_000_000n);
const t1 = Date.UTC(2024, 0, 2, 10, 0, 0);
const t2 = t1 + 10_000;
/** Two moments of the Collector's hostmetrics receiver for one host; `bad` is the one point that is not valid. */
const hostmetrics = (host: string, t: number, extraBytes: number, bad: Record<string, unknown> = { timeUnixNano: ns(t), asInt: 'x' }) => ({
  resourceMetrics: [
    {
      resource: { attributes: [{ key: 'host.name', value: { stringValue: host } }, { key: 'prescient.source', value: { stringValue: 'hypervisor' } }] },
      scopeMetrics: [
        {
          metrics: [
            {
              name: 'system.cpu.time',
              sum: {
                aggregationTemporality: 2,
                isMonotonic: true,
                dataPoints: [
                  { attributes: [{ key: 'cpu', value: { stringValue: 'cpu0' } }, { key: 'state', value: { stringValue: 'user' } }], timeUnixNano: ns(t), asDouble: 100 + (t - t1) / 2000 },
                  { attributes: [{ key: 'cpu', value: { stringValue: 'cpu0' } }, { key: 'state', value: { stringValue: 'idle' } }], timeUnixNano: ns(t), asDouble: 500 + (t - t1) / 2000 },
                ],
              },
            },
            {
              name: 'system.memory.usage',
              sum: {
                aggregationTemporality: 2,
                dataPoints: [
                  { attributes: [{ key: 'state', value: { stringValue: 'used' } }], timeUnixNano: ns(t), asInt: '1000' },
                  { attributes: [{ key: 'state', value: { stringValue: 'free' } }], timeUnixNano: ns(t), asInt: '3000' },
                ],
              },
            },
            {
              name: 'system.network.io',
              sum: {
                aggregationTemporality: 2,
                dataPoints: [
                  { attributes: [{ key: 'device', value: { stringValue: 'eth0' } }, { key: 'direction', value: { stringValue: 'receive' } }], timeUnixNano: ns(t), asInt: String(5000 + extraBytes) },
                  { attributes: [{ key: 'device', value: { stringValue: 'eth0' } }, { key: 'direction', value: { stringValue: 'transmit' } }], ...bad },
                ],
              },
            },
          ],
        },
      ],
    },
  ],
});

test('OTLP JSON: Collector hostmetrics names land as samples; bad points give partialSuccess', async () => {
  const r1 = await post('/v1/metrics', JSON.stringify(hostmetrics('collector-host', t1, 0)), { 'content-type': 'application/json' });
  assert.equal(r1.status, 200);
  assert.equal(r1.body.partialSuccess.rejectedDataPoints, '1');
  const r2 = await post('/v1/metrics', JSON.stringify(hostmetrics('collector-host', t2, 20_000)), { 'content-type': 'application/json' });
  assert.equal(r2.status, 200);
  const subject = ingestion.anonymiser.pseudonym('vm', 'collector-host');
  const rollups = await ingestion.store.rollups(subject);
  assert.equal(rollups.length, 1);
  const mean = rollups[0]!.mean;
  assert.equal(mean.memoryBytes, 1000);
  assert.equal(mean.memoryTotalBytes, 4000);
  assert.equal(mean.cpuCores, 1);
  assert.equal(mean.cpuPercent, 50); // 5 s user of 10 s busy-or-idle
  assert.equal(mean.netInBps, 2000); // 20 000 bytes in 10 s, known only at the second point
  assert.equal(rollups[0]!.samples.netInBps, 1);
});

// The OpenTelemetry project's generated code writes the requests and reads the answers.
interface MessageType {
  encode(message: object): { finish(): Uint8Array };
  decode(bytes: Uint8Array): Record<string, any>;
}
const v1 = (generatedRoot as unknown as { opentelemetry: { proto: { collector: { metrics: { v1: Record<string, MessageType> } } } } }).opentelemetry.proto.collector.metrics.v1;
const encodeRequest = (body: object): Buffer => Buffer.from(v1['ExportMetricsServiceRequest']!.encode(body).finish());
const postBytes = (body: Buffer, headers: Record<string, string> = {}) =>
  fetch(base + '/v1/metrics', { method: 'POST', body, headers: { 'content-type': 'application/x-protobuf', ...headers } }).then(async (r) => ({ status: r.status, type: r.headers.get('content-type'), bytes: Buffer.from(await r.arrayBuffer()) }));
const emptyPoints = (n: number, host?: string) => ({
  resourceMetrics: [{ ...(host ? { resource: { attributes: [{ key: 'host.name', value: { stringValue: host } }] } } : {}), scopeMetrics: [{ metrics: [{ name: 'system.cpu.utilization', gauge: { dataPoints: Array.from({ length: n }, () => ({})) } }] }] }],
});

test('OTLP protobuf: the same hostmetrics land as the same samples, gzipped or not; the answer is a protobuf ExportMetricsServiceResponse', async () => {
  // The bad point has no timeUnixNano (protobuf cannot carry the JSON test's asInt "x").
  const r1 = await postBytes(encodeRequest(hostmetrics('collector-host-pb', t1, 0, { asInt: 7 })));
  assert.equal(r1.status, 200);
  assert.equal(r1.type, 'application/x-protobuf');
  const partial = v1['ExportMetricsServiceResponse']!.decode(r1.bytes)['partialSuccess'];
  assert.equal(String(partial.rejectedDataPoints), '1');
  assert.match(partial.errorMessage, /system\.network\.io dataPoint 1: timeUnixNano: missing/);
  const r2 = await postBytes(gzipSync(encodeRequest(hostmetrics('collector-host-pb', t2, 20_000, { timeUnixNano: ns(t2), asInt: 9 }))), { 'content-encoding': 'gzip' });
  assert.equal(r2.status, 200);
  assert.equal(v1['ExportMetricsServiceResponse']!.decode(r2.bytes)['partialSuccess'], null, 'all points accepted: no partialSuccess');
  const rollups = await ingestion.store.rollups(ingestion.anonymiser.pseudonym('vm', 'collector-host-pb'));
  assert.equal(rollups.length, 1);
  const mean = rollups[0]!.mean;
  assert.equal(mean.memoryBytes, 1000);
  assert.equal(mean.memoryTotalBytes, 4000);
  assert.equal(mean.cpuCores, 1);
  assert.equal(mean.cpuPercent, 50);
  assert.equal(mean.netInBps, 2000);
});

test('OTLP protobuf is bounded like JSON: broken wire data 400, too many points 413 before decoding, a flood of invalid points 400; errors as google.rpc.Status naming the body', async () => {
  const broken = await postBytes(Buffer.from([0x0a, 0xff, 0xff, 0x01]));
  assert.equal(broken.status, 400);
  assert.equal(broken.type, 'application/x-protobuf');
  const s400 = readOtlpStatus(broken.bytes);
  assert.equal(s400.code, 3); // INVALID_ARGUMENT
  assert.match(s400.message!, /^body: not a protobuf ExportMetricsServiceRequest/);
  // 20,000 empty points are 40 KB of protobuf (under the 64 KiB limit) but over this server's 10,000 points.
  const many = encodeRequest(emptyPoints(20_000, 'pb-many'));
  assert.ok(many.length < 64 * 1024);
  const r413 = await postBytes(many);
  assert.equal(r413.status, 413);
  assert.match(readOtlpStatus(r413.bytes).message!, /^body: more than 10000 data points/);
  // The same in JSON.
  const j413 = await post('/v1/metrics', JSON.stringify(emptyPoints(20_000, 'pb-many')), { 'content-type': 'application/json' });
  assert.equal(j413.status, 413);
  assert.equal(j413.body.code, 8); // RESOURCE_EXHAUSTED
  assert.equal(j413.body.details[0].metadata.rule, 'max-data-points');
  // 1,500 points without a time and none valid: the invalid-record cap (1,000) answers 400, nothing stored.
  const junk = await postBytes(gzipSync(encodeRequest(emptyPoints(1500, 'pb-junk'))), { 'content-encoding': 'gzip' });
  assert.equal(junk.status, 400);
  assert.match(readOtlpStatus(junk.bytes).message!, /^body: 1500 invalid data points and none valid; first: resourceMetrics 0 system\.cpu\.utilization dataPoint 0: timeUnixNano/);
  assert.deepEqual(await ingestion.store.rollups(ingestion.anonymiser.pseudonym('vm', 'pb-junk')), []);
  // A gzip bomb is stopped at the body limit, as for JSON.
  const bomb = await postBytes(gzipSync(Buffer.alloc(10 * 1024 * 1024)), { 'content-encoding': 'gzip' });
  assert.equal(bomb.status, 413);
});

test('OTLP from inside a guest without consent is refused through partialSuccess, with the reason', async () => {
  const ns = String(BigInt(Date.UTC(2024, 0, 3)) * 1_000_000n);
  const body = {
    resourceMetrics: [
      {
        resource: { attributes: [{ key: 'host.name', value: { stringValue: 'guest-without-consent' } }] },
        scopeMetrics: [{ metrics: [{ name: 'system.memory.usage', sum: { dataPoints: [{ attributes: [{ key: 'state', value: { stringValue: 'used' } }], timeUnixNano: ns, asInt: '5' }] } }] }],
      },
    ],
  };
  const before = (await ingestion.store.rejections()).find((r) => r.reason === 'no-consent')?.count ?? 0;
  const r = await post('/v1/metrics', JSON.stringify(body), { 'content-type': 'application/json' });
  assert.equal(r.status, 200);
  assert.equal(r.body.partialSuccess.rejectedDataPoints, '1');
  assert.match(r.body.partialSuccess.errorMessage, /consent/);
  assert.equal((await ingestion.store.rejections()).find((x) => x.reason === 'no-consent')?.count, before + 1);
  assert.deepEqual(await ingestion.store.rollups(ingestion.anonymiser.pseudonym('vm', 'guest-without-consent')), []);
});

test('a report sent again (an agent that never got the 2xx re-sends its spooled file) is answered 200 and stored once', async () => {
  const vm = 'vm:http-resend';
  await ingestion.store.grantConsent([ingestion.anonymiser.pseudonym('vm', 'http-resend')], Date.UTC(2024, 0, 1));
  const t = Date.UTC(2024, 0, 2);
  const agent = { subject: vm, source: 'agent' };
  const body = [
    JSON.stringify({ ...agent, kind: 'resource', time: t, cpuPercent: 12, memoryBytes: 1000 }),
    JSON.stringify({ ...agent, kind: 'resource', time: t + 60_000, cpuPercent: 14 }),
    JSON.stringify({ ...agent, kind: 'command', time: t + 1, command: 'ls -la' }),
    JSON.stringify({ ...agent, kind: 'flow', time: t + 2, direction: 'in', protocol: 'tcp', port: 22, remote: '198.51.100.7', bytes: 10 }),
  ].join('\n');
  const before = await ingestion.store.counts();
  const first = await post('/v1/telemetry', body, { 'content-type': 'application/x-ndjson' });
  assert.equal(first.status, 200);
  assert.deepEqual([first.body.accepted, first.body.alreadyStored], [4, 0], JSON.stringify(first.body));
  const after = await ingestion.store.counts();
  const again = await post('/v1/telemetry', body, { 'content-type': 'application/x-ndjson' });
  assert.equal(again.status, 200, 'a 2xx, so that the agent deletes its spooled file');
  assert.deepEqual([again.body.accepted, again.body.alreadyStored], [4, 4]);
  assert.deepEqual(await ingestion.store.counts(), after);
  assert.deepEqual([after.resource - before.resource, after.command - before.command, after.flow - before.flow], [2, 1, 1]);
  const pseudonym = ingestion.anonymiser.pseudonym('vm', 'http-resend');
  assert.deepEqual((await ingestion.store.rollups(pseudonym)).map((r) => r.samples.cpuPercent), [2]);
  assert.deepEqual((await ingestion.store.guestActivity(pseudonym)).programs.map((p) => p.count), [1]);
});
