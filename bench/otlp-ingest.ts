/**
 * OTLP/HTTP ingest throughput, protobuf against JSON, same samples, same run.
 *
 * The load is what a Collector gateway sends for a fleet: each request one moment of
 * `hostmetrics` for a group of hosts (per host: CPU utilisation per CPU and state, the logical
 * CPU count, memory by state and its limit, cumulative disk and network counters: 24 data points,
 * one sample). Every run posts the same requests to one real `prescient serve`, once encoded as
 * protobuf (by the OpenTelemetry project's generated code) and once as JSON, the order
 * alternating between runs, 4 requests in flight; each format's hosts are named afresh per run
 * (names of the same length) so counters start over and nothing is a duplicate. Timed from the
 * first request to the last answer; then the store is checked to hold every sample.
 *
 * A second figure is the decoding alone, in this process: body → samples (JSON.parse or
 * protobuf decode, then the shared mapping), without HTTP or storage.
 *
 *   bash scripts/bench otlp-ingest     (env: RUNS=5, HOSTS=50, MOMENTS=60, GROUP=10, GZIP=0|1)
 */
import generatedRoot from '@opentelemetry/otlp-transformer/build/src/generated/root.js';
import { rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { loadavg } from 'node:os';
import { gzipSync } from 'node:zlib';
import { paths } from '../src/core/config.js';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { createCounterRates } from '../src/telemetry/counter-rates.js';
import { decodeOtlpMetrics, mapOtlpMetrics } from '../src/telemetry/formats/otlp.js';
import { decodeOtlpProtobuf } from '../src/telemetry/formats/otlp-protobuf.js';
import { startServe } from '../test/support/serve.js';
import { adminAuthorization, tempHome } from './support/home.js';
import { median, runsFromEnv } from './support/stats.js';

const runs = runsFromEnv('RUNS', 5);
const hosts = runsFromEnv('HOSTS', 50);
const moments = runsFromEnv('MOMENTS', 60);
const group = runsFromEnv('GROUP', 10);
const gzip = process.env['GZIP'] === '1';
const inFlight = 4;
const formats = ['protobuf', 'json'] as const;
type Format = (typeof formats)[number];

interface MessageType {
  encode(message: object): { finish(): Uint8Array };
  decode(bytes: Uint8Array): Record<string, unknown>;
}
const v1 = (generatedRoot as unknown as { opentelemetry: { proto: { collector: { metrics: { v1: Record<string, MessageType> } } } } }).opentelemetry.proto.collector.metrics.v1;

const str = (key: string, value: string) => ({ key, value: { stringValue: value } });
const ns = (ms: number): string => String(BigInt(ms) * 1_000_000n);

/** One moment of hostmetrics for hosts [first, first + group), in the OTLP JSON mapping. */
function hostmetricsRequest(prefix: string, first: number, moment: number): object {
  const t = Date.UTC(2026, 0, 1) + moment * 60_000;
  const time = ns(t);
  const start = ns(Date.UTC(2026, 0, 1) - 60_000);
  const resourceMetrics = [];
  for (let h = first; h < Math.min(first + group, hosts); h++) {
    const gauge = (name: string, points: object[]) => ({ name, gauge: { dataPoints: points } });
    const counter = (name: string, points: object[]) => ({ name, sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: points } });
    const cpu = [];
    for (let c = 0; c < 4; c++)
      for (const [state, share] of [['user', 0.2 + ((h + moment) % 5) / 10], ['system', 0.05], ['idle', 0.25]] as const)
        cpu.push({ attributes: [str('cpu', `cpu${c}`), str('state', state)], timeUnixNano: time, asDouble: share });
    const used = 2_000_000_000 + h * 1_000_000 + moment * 4096;
    const memory = ['used', 'free', 'buffered', 'cached'].map((state, i) => ({ attributes: [str('state', state)], timeUnixNano: time, asInt: String(i === 0 ? used : 1_000_000_000) }));
    const io = (device: string, direction: string, perMinute: number) => ({ attributes: [str('device', device), str('direction', direction)], startTimeUnixNano: start, timeUnixNano: time, asInt: String(perMinute * (moment + 1)) });
    resourceMetrics.push({
      resource: { attributes: [str('host.name', `${prefix}-h${String(h).padStart(4, '0')}`), str('prescient.source', 'hypervisor'), str('prescient.category', 'bench')] },
      scopeMetrics: [
        {
          scope: { name: 'otelcol/hostmetricsreceiver', version: '0.120.0' },
          metrics: [
            gauge('system.cpu.utilization', cpu),
            gauge('system.cpu.logical.count', [{ timeUnixNano: time, asInt: '4' }]),
            counter('system.memory.usage', memory),
            gauge('system.memory.limit', [{ timeUnixNano: time, asInt: '5000000000' }]),
            counter('system.network.io', [io('eth0', 'receive', 6_000_000), io('eth0', 'transmit', 3_000_000), io('eth1', 'receive', 60_000), io('eth1', 'transmit', 30_000)]),
            counter('system.disk.io', [io('vda', 'read', 1_200_000), io('vda', 'write', 2_400_000)]),
          ],
        },
      ],
    });
  }
  return { resourceMetrics };
}

function encode(format: Format, body: object): Buffer {
  const raw = format === 'json' ? Buffer.from(JSON.stringify(body)) : Buffer.from(v1['ExportMetricsServiceRequest']!.encode(body).finish());
  return gzip ? gzipSync(raw) : raw;
}

/** The requests of one format and run, moment by moment (a host's counters must arrive in order). */
function requests(format: Format, run: number, count = moments): Buffer[] {
  const prefix = `${run < 0 ? 'wu' : `r${String(run).padStart(2, '0')}`}-${format === 'json' ? 'js' : 'pb'}`;
  const out: Buffer[] = [];
  for (let m = 0; m < count; m++) for (let first = 0; first < hosts; first += group) out.push(encode(format, hostmetricsRequest(prefix, first, m)));
  return out;
}

function post(agent: Agent, port: number, format: Format, body: Buffer, authorization: string): Promise<void> {
  const headers = { 'content-type': format === 'json' ? 'application/json' : 'application/x-protobuf', 'content-length': body.length, authorization, ...(gzip ? { 'content-encoding': 'gzip' } : {}) };
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/v1/metrics', method: 'POST', agent, headers }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => {
        const answer = Buffer.concat(chunks);
        // Every point is valid: any partialSuccess means the formats were not measured on the same work.
        const partial = format === 'json' ? (JSON.parse(answer.toString()) as { partialSuccess?: unknown }).partialSuccess : v1['ExportMetricsServiceResponse']!.decode(answer)['partialSuccess'];
        if (r.statusCode !== 200 || partial) reject(new Error(`${format}: HTTP ${r.statusCode} ${format === 'json' ? answer.toString().slice(0, 300) : JSON.stringify(partial)}`));
        else resolve();
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function postAll(port: number, format: Format, bodies: Buffer[], authorization: string, count = moments): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: inFlight });
  let next = 0;
  const t = performance.now();
  // A host's moments stay in order: requests of one moment go before the next moment's.
  const perMoment = Math.ceil(hosts / group);
  for (let m = 0; m < count; m++) {
    const batch = bodies.slice(m * perMoment, (m + 1) * perMoment);
    next = 0;
    await Promise.all(Array.from({ length: Math.min(inFlight, batch.length) }, async () => {
      while (next < batch.length) await post(agent, port, format, batch[next++]!, authorization);
    }));
  }
  agent.destroy();
  return (performance.now() - t) / 1000;
}

/** Uncompressed bodies only (the HTTP figure is the one that includes gunzip). */
function decodeOnly(format: Format, bodies: Buffer[]): { seconds: number; samples: number } {
  const rates = createCounterRates();
  let samples = 0;
  const t = performance.now();
  for (const b of bodies) {
    const decoded = format === 'json' ? decodeOtlpMetrics(JSON.parse(b.toString('utf8')), rates) : mapOtlpMetrics(decodeOtlpProtobuf(b), rates);
    samples += decoded.results.filter((r) => r.ok).length;
  }
  return { seconds: (performance.now() - t) / 1000, samples };
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const pointsPerRequest = 24 * group;
const samplesPerRun = hosts * moments;

const home = tempHome('otlp');
const serve = await startServe(home);
try {
  const authorization = adminAuthorization(home);
  const http: Record<Format, number[]> = { protobuf: [], json: [] };
  const decode: Record<Format, number[]> = { protobuf: [], json: [] };
  const bytes: Record<Format, number> = { protobuf: 0, json: 0 };
  // A warm-up of both formats, not counted: neither pays the first run's compilation for the other.
  const warmUp = 5;
  for (const format of formats) {
    const bodies = requests(format, -1, warmUp);
    await postAll(serve.port, format, bodies, authorization, warmUp);
    if (!gzip) for (let i = 0; i < 5; i++) decodeOnly(format, requests(format, -1));
  }
  for (let run = 0; run < runs; run++) {
    const order = run % 2 === 0 ? formats : ([...formats].reverse() as Format[]);
    for (const format of order) {
      const bodies = requests(format, run);
      bytes[format] = bodies.reduce((n, b) => n + b.length, 0) / bodies.length;
      const seconds = await postAll(serve.port, format, bodies, authorization);
      http[format].push(samplesPerRun / seconds);
      if (!gzip) {
        // Decoding alone is short: the best of 5 passes is this run's figure (the machine is shared).
        const passes = [0, 1, 2, 3, 4].map(() => decodeOnly(format, bodies));
        if (passes[0]!.samples !== samplesPerRun) throw new Error(`${format}: decoded ${passes[0]!.samples} samples, expected ${samplesPerRun}`);
        decode[format].push(samplesPerRun / Math.min(...passes.map((p) => p.seconds)));
      }
    }
    process.stderr.write(`run ${run + 1}/${runs}: protobuf ${fmt(http.protobuf.at(-1)!)}, json ${fmt(http.json.at(-1)!)} samples/s (load ${loadavg()[0]!.toFixed(2)})\n`);
  }
  await serve.stop();
  const store = openSqliteStore({ file: paths(home).store });
  const stored = (await store.counts()).resource;
  await store.close();
  const expected = (samplesPerRun * runs + hosts * warmUp) * formats.length;
  if (stored !== expected) throw new Error(`the store holds ${stored} samples, expected ${expected}`);

  console.log(`OTLP/HTTP ingest through prescient serve: ${hosts} hosts × ${moments} moments, ${pointsPerRequest} data points (${group} hosts) a request, ${inFlight} in flight, ${gzip ? 'gzip' : 'no compression'}; median of ${runs} runs, each format once a run, after a warm-up`);
  for (const format of formats) {
    const s = median(http[format]);
    console.log(`  ${format.padEnd(8)}  ${fmt(s)} samples/s = ${fmt(s * 24)} data points/s over HTTP; ${fmt(bytes[format])} bytes a request${gzip ? '' : `; decoding alone ${fmt(median(decode[format]))} samples/s`}`);
  }
  console.log(`  protobuf / json: ${(median(http.protobuf) / median(http.json)).toFixed(2)}× over HTTP${gzip ? '' : `, ${(median(decode.protobuf) / median(decode.json)).toFixed(2)}× decoding alone`}; bytes ${(bytes.protobuf / bytes.json).toFixed(2)}×`);
  console.log(`  every sample stored: ${fmt(stored)} (load average ${loadavg()[0]!.toFixed(2)})`);
} finally {
  await serve.stop();
  rmSync(home, { recursive: true, force: true });
}
