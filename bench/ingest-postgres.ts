/**
 * Ingest throughput on PostgreSQL against SQLite: the same data through the same ingestor, in
 * the same run, the two stores taking turns (so both meet the same load on the shared machine):
 *  - bulk: the Bitbrains folder through `importFiles` (column batches of one VM each), samples/s,
 *    timed until the store is closed (SQLite: rollups caught up, WALs checkpointed; PostgreSQL:
 *    rollups are written in each write's transaction, nothing is left at close);
 *  - live: resource events of 200 VMs in batches of 1,000 written straight to the store, 4
 *    batches in flight (what concurrent HTTP requests make), events/s, timed until the store is closed;
 *  - http: `prescient serve` (its own process; PRESCIENT_STORE_URL for PostgreSQL) taking NDJSON
 *    batches of 1,000 resource events over loopback, 4 requests in flight, events/s until the
 *    last answer; after the server's stop every sample is checked to be in the rollups.
 * PostgreSQL is a throwaway cluster on loopback (src/store/testing/postgres-cluster.ts) with
 * fsync off, a fresh database per run: the figure is the store's CPU and protocol cost, not a
 * disk's. SQLite runs with its defaults (synchronous NORMAL). Median of RUNS runs each. Beside
 * each rate, the same count per CPU second (this process, SQLite's threads included, plus the
 * PostgreSQL backends): on a shared 2-core machine a client/server store waits for the
 * scheduler at every round trip, so the CPU figure is the steadier comparison.
 *
 *   bash scripts/bench ingest-postgres            (env: RUNS=3, LIVE_BATCHES=200, HTTP_BATCHES=200, PARTS=bulk,live,http)
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openPostgresStore } from '../src/store/postgres/postgres-store.js';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { TelemetryStore } from '../src/store/store.js';
import { postgresBin, startPostgres } from '../src/store/testing/postgres-cluster.js';
import type { AnonymisedEvent } from '../src/contracts/anonymised-event.js';
import { createAnonymiser } from '../src/telemetry/anonymise.js';
import { importFiles } from '../src/telemetry/import-files.js';
import { createIngestor } from '../src/telemetry/ingest.js';
import { loadOrCreateKeyring } from '../src/telemetry/pseudonym-keys.js';
import { startServe } from '../test/support/serve.js';
import { ownCpuSeconds, procCpuSeconds } from './support/cpu-seconds.js';
import { adminAuthorization, tempHome } from './support/home.js';
import { postTelemetry } from './support/post-telemetry.js';
import { median } from './support/stats.js';
import { datasetPath } from '../test/support/datasets.js';

const bitbrains = datasetPath('bitbrains-rnd-2013-7');
const runs = Number(process.env.RUNS ?? 3);
const liveBatches = Number(process.env.LIVE_BATCHES ?? 200);
const httpBatches = Number(process.env.HTTP_BATCHES ?? 200);
const parts = (process.env.PARTS ?? 'bulk,live,http').split(',');

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const load = (): string => loadavg()[0]!.toFixed(2);

type Kind = 'sqlite' | 'postgres';

/** utime + stime per backend (child of the postmaster) alive now, in seconds (Linux). */
function backendCpu(postmaster: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of readFileSync(`/proc/${postmaster}/task/${postmaster}/children`, 'utf8').trim().split(/\s+/)) {
    try {
      out.set(Number(pid), procCpuSeconds(Number(pid)));
    } catch {
      /* ended */
    }
  }
  return out;
}

/**
 * CPU seconds used since the call, by this process and (PostgreSQL) by the server's backends:
 * per backend pid, so that backends of an earlier store ending meanwhile subtract nothing.
 */
function cpuMeter(postmaster: number | undefined): () => number {
  const own = ownCpuSeconds();
  const before = postmaster === undefined ? new Map<number, number>() : backendCpu(postmaster);
  return () => {
    let server = 0;
    if (postmaster !== undefined) for (const [pid, s] of backendCpu(postmaster)) server += s - (before.get(pid) ?? 0);
    return ownCpuSeconds() - own + server;
  };
}

async function main(): Promise<void> {
  if (!(await postgresBin())) {
    console.log("ingest-postgres: skipped, Debian's postgresql is not installed (bash scripts/setup)");
    return;
  }
  const cluster = await startPostgres();
  let databases = 0;
  const dirs: string[] = [];
  /** A fresh, empty store of that kind. */
  const open = async (kind: Kind): Promise<TelemetryStore> => {
    if (kind === 'sqlite') {
      const dir = tempHome('ingest-pg');
      dirs.push(dir);
      return openSqliteStore({ file: join(dir, 'prescient.db') });
    }
    const name = `bench_${++databases}`;
    const admin = new pg.Client({ connectionString: cluster.url });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const store = openPostgresStore({ url: cluster.url.replace(/\/postgres$/, `/${name}`) });
    await store.counts(); // connected and migrated before the clock starts, as SQLite is on open
    return store;
  };
  const secrets = tempHome('ingest-pg-keys');
  dirs.push(secrets);
  const anonymiser = createAnonymiser({ keyring: loadOrCreateKeyring(secrets) });
  try {
    console.log(`machine: ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} at start; ${runs} runs each, stores taking turns`);
    if (parts.includes('bulk')) {
      if (!existsSync(bitbrains)) console.log(`bulk: skipped, ${bitbrains} is absent`);
      else {
        const rates: Record<Kind, number[]> = { sqlite: [], postgres: [] };
        const cpuRates: Record<Kind, number[]> = { sqlite: [], postgres: [] };
        for (let i = 0; i < runs; i++) {
          for (const kind of ['sqlite', 'postgres'] as const) {
            const store = await open(kind);
            const t = performance.now();
            const meter = cpuMeter(kind === 'postgres' ? cluster.pid : undefined);
            const r = await importFiles({ path: bitbrains, format: 'bitbrains', ingestor: createIngestor({ store, anonymiser }) });
            const cpu = meter(); // before close: the backends end with the pool
            await store.close();
            const s = (performance.now() - t) / 1000;
            if (r.rejected + r.refused > 0) throw new Error(`bulk import rejected ${r.rejected} and refused ${r.refused}`);
            rates[kind].push(r.accepted / s);
            cpuRates[kind].push(r.accepted / cpu);
            console.log(`  bulk ${kind} run ${i + 1}: ${fmt(r.accepted)} samples in ${s.toFixed(2)} s, ${fmt(r.accepted / s)} samples/s, ${fmt(r.accepted / cpu)} per CPU second (load ${load()})`);
          }
        }
        console.log(
          `bulk (Bitbrains month, column batches): SQLite ${fmt(median(rates.sqlite))} samples/s (${fmt(median(cpuRates.sqlite))} per CPU s), ` +
            `PostgreSQL ${fmt(median(rates.postgres))} samples/s (${fmt(median(cpuRates.postgres))} per CPU s, client + server) (median of ${runs})`,
        );
      }
    }
    if (parts.includes('live')) {
      const t0 = Date.UTC(2024, 0, 1);
      const batches: AnonymisedEvent[][] = Array.from({ length: liveBatches }, (_, b) =>
        Array.from({ length: 1000 }, (_, i) => ({
          kind: 'resource' as const,
          subject: `v_live_${(b * 1000 + i) % 200}`,
          subjectKind: 'vm' as const,
          source: 'hypervisor' as const,
          time: t0 + Math.floor((b * 1000 + i) / 200) * 10_000,
          cpuPercent: (i * 7) % 100,
          memoryBytes: 1e9 + i,
          netInBps: i,
        })),
      );
      const rates: Record<Kind, number[]> = { sqlite: [], postgres: [] };
      const cpuRates: Record<Kind, number[]> = { sqlite: [], postgres: [] };
      for (let i = 0; i < runs; i++) {
        for (const kind of ['sqlite', 'postgres'] as const) {
          const store = await open(kind);
          let next = 0;
          const t = performance.now();
          const meter = cpuMeter(kind === 'postgres' ? cluster.pid : undefined);
          const worker = async (): Promise<void> => {
            while (next < batches.length) await store.write(batches[next++]!);
          };
          await Promise.all([worker(), worker(), worker(), worker()]);
          const c = await store.counts();
          const cpu = meter();
          await store.close();
          const s = (performance.now() - t) / 1000;
          if (c.resource !== liveBatches * 1000) throw new Error(`${kind}: ${c.resource} samples stored of ${liveBatches * 1000}`);
          rates[kind].push(c.resource / s);
          cpuRates[kind].push(c.resource / cpu);
          console.log(`  live ${kind} run ${i + 1}: ${fmt(c.resource)} events in ${s.toFixed(2)} s, ${fmt(c.resource / s)} events/s, ${fmt(c.resource / cpu)} per CPU second (load ${load()})`);
        }
      }
      console.log(
        `live (200 VMs, batches of 1,000, 4 in flight): SQLite ${fmt(median(rates.sqlite))} events/s (${fmt(median(cpuRates.sqlite))} per CPU s), ` +
          `PostgreSQL ${fmt(median(rates.postgres))} events/s (${fmt(median(cpuRates.postgres))} per CPU s, client + server) (median of ${runs})`,
      );
    }
    if (parts.includes('http')) {
      const t0 = Date.UTC(2024, 0, 1);
      // One body per batch and one for the warm-up: a body posted again stores nothing (an event is stored once).
      const bodies = Array.from({ length: httpBatches + 1 }, (_, b) =>
        Buffer.from(
          Array.from({ length: 1000 }, (_, i) =>
            JSON.stringify({ kind: 'resource', time: t0 + (b * 1000 + i) * 1000, subject: `vm:bench-${(b * 7 + i) % 200}`, source: 'hypervisor', category: 'bench', cpuCores: 4, cpuPercent: (i * 7) % 100, memoryBytes: 2e9 + i, netInBps: i * 100 }),
          ).join('\n'),
        ),
      );
      const rates: Record<Kind, number[]> = { sqlite: [], postgres: [] };
      for (let i = 0; i < runs; i++) {
        for (const kind of ['sqlite', 'postgres'] as const) {
          const home = tempHome('ingest-pg-http');
          dirs.push(home);
          let url: string | undefined;
          if (kind === 'postgres') {
            const name = `bench_${++databases}`;
            const admin = new pg.Client({ connectionString: cluster.url });
            await admin.connect();
            await admin.query(`CREATE DATABASE ${name}`);
            await admin.end();
            url = cluster.url.replace(/\/postgres$/, `/${name}`);
          }
          const serve = await startServe(home, [], { env: { PRESCIENT_STORE_URL: url } }); // undefined: SQLite, whatever this shell sets
          const authorization = adminAuthorization(home);
          const agent = new Agent({ keepAlive: true, maxSockets: 4 });
          try {
            await postTelemetry(agent, serve.port, bodies[httpBatches]!, authorization); // warm-up: JIT, subjects, the schema
            let next = 0;
            let accepted = 0;
            const t = performance.now();
            const worker = async (): Promise<void> => {
              while (next < httpBatches) {
                const n = await postTelemetry(agent, serve.port, bodies[next++]!, authorization);
                accepted += n;
              }
            };
            await Promise.all([worker(), worker(), worker(), worker()]);
            const s = (performance.now() - t) / 1000;
            agent.destroy();
            await serve.stop();
            if (accepted !== httpBatches * 1000) throw new Error(`${kind}: accepted ${accepted} of ${httpBatches * 1000}`);
            const check = kind === 'sqlite' ? openSqliteStore({ file: join(home, 'prescient.db') }) : openPostgresStore({ url: url! });
            let inRollups = 0;
            for (const subject of await check.listSubjects({ kind: 'vm' })) for (const b of await check.rollups(subject.subject)) inRollups += b.samples.cpuPercent ?? 0;
            await check.close();
            if (inRollups !== (httpBatches + 1) * 1000) throw new Error(`${kind}: rollups hold ${inRollups} samples, expected ${(httpBatches + 1) * 1000}`);
            rates[kind].push(accepted / s);
            console.log(`  http ${kind} run ${i + 1}: ${fmt(accepted)} events in ${s.toFixed(2)} s, ${fmt(accepted / s)} events/s (load ${load()})`);
          } finally {
            agent.destroy();
            await serve.stop();
          }
        }
      }
      console.log(`http (serve, NDJSON batches of 1,000, 4 requests in flight): SQLite ${fmt(median(rates.sqlite))} events/s, PostgreSQL ${fmt(median(rates.postgres))} events/s (median of ${runs})`);
    }
  } finally {
    await cluster.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

await main();
