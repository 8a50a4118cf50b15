/**
 * Ingestion throughput, anonymisation on:
 *  - bulk: the Bitbrains folder through `importFiles` (parse → validate → pseudonymise → SQLite
 *    raw rows + 5-minute rollups), in samples/s, timed until the store is closed (the last
 *    rollups caught up, the WALs checkpointed); the same run measures reading and parsing alone
 *    (on one thread), and how much CPU the importing thread needed (it parses and writes the raw
 *    samples; the store's rollup thread builds the rollups beside it, on the other core).
 *  - HTTP: NDJSON batches of 1,000 events posted over loopback to `prescient serve` (its own
 *    process) by this process (the load generator), 4 requests in flight, in events/s, timed
 *    until the last answer; a second figure also counts the server's stop (which catches up the
 *    rollups of the last < 50,000 samples), and after it the rollups are checked to be complete.
 * Each figure is the median of several runs on a fresh PRESCIENT_HOME, with the load average
 * next to it: the machine is shared.
 *
 *   bash scripts/bench ingest            (env: RUNS=3, HTTP_BATCHES=300, PARTS=bulk,http)
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { importFiles } from '../src/telemetry/import-files.js';
import { openPrescient } from '../src/app/open-prescient.js';
import { bitbrainsColumns } from '../src/telemetry/trace-events.js';
import { startServe } from '../test/support/serve.js';
import { ownCpuSeconds, procCpuSeconds } from './support/cpu-seconds.js';
import { adminAuthorization, tempHome } from './support/home.js';
import { postTelemetry } from './support/post-telemetry.js';
import { median } from './support/stats.js';
import { datasetPath } from '../test/support/datasets.js';

const bitbrains = datasetPath('bitbrains-rnd-2013-7');
const runs = Number(process.env.RUNS ?? 3);
const httpBatches = Number(process.env.HTTP_BATCHES ?? 300);
const parts = (process.env.PARTS ?? 'bulk,http').split(',');

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

const load = (): string => loadavg()[0]!.toFixed(2);

/** The import's parsing alone: read, parse, convert, check. */
async function parseOnly(): Promise<number> {
  const files = readdirSync(bitbrains).filter((f) => f.endsWith('.csv'));
  let n = 0;
  const t = performance.now();
  for (const f of files) n += bitbrainsColumns(readFileSync(join(bitbrains, f)), f, { source: 'hypervisor' }).columns.rows;
  return n / ((performance.now() - t) / 1000);
}

async function bulkOnce(): Promise<{ rate: number; cpuRate: number; writerRate: number; samples: number }> {
  const home = tempHome('ingest');
  const ingestion = await (await openPrescient({ home })).ingestion();
  let closed = false;
  try {
    const t = performance.now();
    const c = ownCpuSeconds();
    const m = procCpuSeconds(process.pid, process.pid); // the main thread
    const r = await importFiles({ path: bitbrains, format: 'bitbrains', ingestor: ingestion.ingestor });
    await ingestion.close();
    closed = true;
    const s = (performance.now() - t) / 1000;
    const cpu = ownCpuSeconds() - c;
    const writer = procCpuSeconds(process.pid, process.pid) - m;
    if (r.rejected + r.refused > 0) throw new Error(`bulk import rejected ${r.rejected} and refused ${r.refused}`);
    return { rate: r.accepted / s, cpuRate: r.accepted / cpu, writerRate: r.accepted / writer, samples: r.accepted };
  } finally {
    if (!closed) await ingestion.close();
    rmSync(home, { recursive: true, force: true });
  }
}

function makeBodies(count: number): Buffer[] {
  const t0 = Date.UTC(2024, 0, 1);
  const programs = ['ls', 'cd', 'vim', 'make', 'git', 'python3', 'grep', 'ssh'];
  return Array.from({ length: count }, (_, b) => {
    const lines: string[] = [];
    for (let i = 0; i < 1000; i++) {
      const vm = `vm:bench-${(b * 7 + i) % 200}`;
      const time = t0 + (b * 1000 + i) * 1000;
      lines.push(
        i % 5 === 4
          ? JSON.stringify({ kind: 'command', time, subject: `user:u${i % 50}`, source: 'app-log', command: `${programs[i % 8]} --opt /home/someone/file.txt` })
          : JSON.stringify({ kind: 'resource', time, subject: vm, source: 'hypervisor', category: 'bench', cpuCores: 4, cpuPercent: (i * 7) % 100, memoryBytes: 2e9 + i, memoryTotalBytes: 8e9, diskReadBps: i * 10, diskWriteBps: i * 5, netInBps: i * 100, netOutBps: i * 50 }),
      );
    }
    return Buffer.from(lines.join('\n'));
  });
}

async function httpOnce(bodies: Buffer[]): Promise<{ rate: number; cpuRate: number; rateWithStop: number }> {
  const home = tempHome('ingest-http');
  const serve = await startServe(home);
  // telemetry writes need a credential: the bench writes as the admin of its own home
  const authorization = adminAuthorization(home);
  const pid = serve.child.pid!;
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  let stopped = false;
  try {
    await postTelemetry(agent, serve.port, bodies[httpBatches]!, authorization); // warm-up: JIT, subjects, prepared statements
    let next = 0;
    let accepted = 0;
    const t = performance.now();
    const c = procCpuSeconds(pid);
    const worker = async (): Promise<void> => {
      while (next < httpBatches) {
        const b = bodies[next++]!;
        const n = await postTelemetry(agent, serve.port, b, authorization); // not `accepted += await`: that reads accepted before the await
        accepted += n;
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    const s = (performance.now() - t) / 1000;
    const cpu = procCpuSeconds(pid) - c;
    agent.destroy();
    await serve.stop();
    stopped = true;
    const withStop = (performance.now() - t) / 1000;
    if (accepted !== httpBatches * 1000) throw new Error(`accepted ${accepted} of ${httpBatches * 1000}`);
    // Every resource sample (4 in 5 events, plus the warm-up batch's) is in the rollups.
    const check = await (await openPrescient({ home })).ingestion();
    try {
      let inRollups = 0;
      for (const subject of await check.store.listSubjects({ kind: 'vm' })) for (const b of await check.store.rollups(subject.subject)) inRollups += b.samples.cpuPercent ?? 0;
      if (inRollups !== (httpBatches + 1) * 800) throw new Error(`rollups hold ${inRollups} samples, expected ${(httpBatches + 1) * 800}`);
    } finally {
      await check.close();
    }
    return { rate: accepted / s, cpuRate: accepted / cpu, rateWithStop: accepted / withStop };
  } finally {
    agent.destroy();
    if (!stopped) await serve.stop();
    rmSync(home, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  console.log(`machine: ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} at start; ${runs} runs each`);
  if (!parts.includes('bulk')) console.log('bulk: not asked for (PARTS)');
  else if (!existsSync(bitbrains)) console.log(`bulk: skipped, ${bitbrains} is absent`);
  else {
    const parse: number[] = [];
    const bulk: number[] = [];
    const bulkCpu: number[] = [];
    const bulkWriter: number[] = [];
    let samples = 0;
    for (let i = 0; i < runs; i++) {
      parse.push(await parseOnly());
      const before = load();
      const r = await bulkOnce();
      bulk.push(r.rate);
      bulkCpu.push(r.cpuRate);
      bulkWriter.push(r.writerRate);
      samples = r.samples;
      console.log(
        `  run ${i + 1} (load ${before} → ${load()}): parse only ${fmt(parse.at(-1)!)} rows/s; full import ${fmt(r.rate)} samples/s; ` +
          `${fmt(r.cpuRate)} per CPU-second of all threads, ${fmt(r.writerRate)} per CPU-second of the importing thread`,
      );
    }
    console.log(
      `bulk import, Bitbrains (${fmt(samples)} resource samples of 8 values each, 100 VMs): ${fmt(median(bulk))} samples/s median ` +
        `= ${fmt(8 * median(bulk))} metric values/s (target ≥ 200,000 samples/s); ${fmt(median(bulkCpu))} samples per CPU-second of all threads; ` +
        `the importing thread (parse + raw rows) alone could go ${fmt(median(bulkWriter))} samples/s; reading+parsing alone (one thread): ${fmt(median(parse))} rows/s`,
    );
  }
  if (!parts.includes('http')) return;
  // One body per batch and one for the warm-up: the store keeps an event once, so a body posted
  // again would be answered without storing anything, and the rollup check would find it missing.
  const bodies = makeBodies(httpBatches + 1);
  const http: number[] = [];
  const httpCpu: number[] = [];
  const httpStop: number[] = [];
  for (let i = 0; i < runs; i++) {
    const before = load();
    const r = await httpOnce(bodies);
    http.push(r.rate);
    httpCpu.push(r.cpuRate);
    httpStop.push(r.rateWithStop);
    console.log(
      `  run ${i + 1} (load ${before} → ${load()}): ${fmt(r.rate)} events/s; ${fmt(r.rateWithStop)} counting the server's stop; ` +
        `${fmt(r.cpuRate)} per CPU-second of the server (all its threads)`,
    );
  }
  console.log(
    `HTTP ingest, NDJSON batches of 1,000 over loopback (${fmt(httpBatches * 1000)} events, 4 in flight): ${fmt(median(http))} events/s median ` +
      `(target ≥ 50,000 events/s); ${fmt(median(httpStop))} counting the server's stop; ${fmt(median(httpCpu))} events per CPU-second of the server`,
  );
  console.log(`load average at end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

await main();
