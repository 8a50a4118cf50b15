/**
 * Ingest throughput on PostgreSQL against SQLite: the same data through the same ingestor, in
 * the same run, the two stores taking turns (so both meet the same load on the shared machine):
 *  - bulk: the Bitbrains folder through `importFiles` (column batches of one VM each), samples/s,
 *    timed until the store is closed (SQLite: rollups caught up, WALs checkpointed; PostgreSQL:
 *    rollups are written in each write's transaction, nothing is left at close);
 *  - live: resource events of 200 VMs in batches of 1,000 written straight to the store, 4
 *    batches in flight (what concurrent HTTP requests make; the HTTP layer is bench/ingest's),
 *    events/s, timed until the store is closed.
 * PostgreSQL is a throwaway cluster on loopback (src/store/testing/postgres-cluster.ts) with
 * fsync off, a fresh database per run: the figure is the store's CPU and protocol cost, not a
 * disk's. SQLite runs with its defaults (synchronous NORMAL). Median of RUNS runs each. Beside
 * each rate, the same count per CPU second (this process, SQLite's threads included, plus the
 * PostgreSQL backends): on a shared 2-core machine a client/server store waits for the
 * scheduler at every round trip, so the CPU figure is the steadier comparison.
 *
 *   bash scripts/bench ingest-postgres            (env: RUNS=3, LIVE_BATCHES=200, PARTS=bulk,live)
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
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

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const bitbrains = join(root, '..', 'shared', 'datasets', 'bitbrains-rnd-2013-7');
const runs = Number(process.env.RUNS ?? 3);
const liveBatches = Number(process.env.LIVE_BATCHES ?? 200);
const parts = (process.env.PARTS ?? 'bulk,live').split(',');

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const load = (): string => loadavg()[0]!.toFixed(2);

type Kind = 'sqlite' | 'postgres';

const cpuSeconds = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** utime + stime of the server's backends (children of the postmaster) alive now, in seconds (Linux). */
function serverCpuSeconds(postmaster: number): number {
  let sum = 0;
  for (const pid of readFileSync(`/proc/${postmaster}/task/${postmaster}/children`, 'utf8').trim().split(/\s+/)) {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
      sum += (Number(fields[11]) + Number(fields[12])) / 100;
    } catch {
      /* ended */
    }
  }
  return sum;
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
      const dir = mkdtempSync(join(tmpdir(), 'prescient-bench-'));
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
  const secrets = mkdtempSync(join(tmpdir(), 'prescient-bench-keys-'));
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
            const c = cpuSeconds() + serverCpuSeconds(cluster.pid);
            const r = await importFiles({ path: bitbrains, format: 'bitbrains', ingestor: createIngestor({ store, anonymiser }) });
            const cpu = cpuSeconds() + serverCpuSeconds(cluster.pid) - c; // before close: the backends end with the pool
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
          const cpu0 = cpuSeconds() + serverCpuSeconds(cluster.pid);
          const worker = async (): Promise<void> => {
            while (next < batches.length) await store.write(batches[next++]!);
          };
          await Promise.all([worker(), worker(), worker(), worker()]);
          const c = await store.counts();
          const cpu = cpuSeconds() + serverCpuSeconds(cluster.pid) - cpu0;
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
  } finally {
    await cluster.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

await main();
