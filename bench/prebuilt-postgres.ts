// Issue 17 benchmark: prebuilt-hit latency with PostgreSQL behind the API, against SQLite, in
// one run. Two homes with the same synthetic telemetry (the quickstart's four clients, 7 days),
// one on the SQLite store and one on a PostgreSQL store (a throwaway cluster on loopback, as the
// tests start it); both share the base, the apt cache and one layer cache, so the second home's
// first build is warm. Each client's first request builds its image; then rounds alternate
// between the two homes, each round asking every client once (every answer must be `prebuilt`).
// Measured in process, from `workflow.handle` to the grant: the store reads on that path
// (identification's category, the vector's reuse state, in-guest consent) are what differ.
//   bash scripts/bench prebuilt-postgres          (env: ROUNDS=50)
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openPrescient, type Prescient } from '../src/app/open-prescient.js';
import { sampleClients, sampleTelemetry } from '../src/demo/sample-telemetry.js';
import { startPostgres } from '../src/store/testing/postgres-cluster.js';
import { importFiles } from '../src/telemetry/import-files.js';
import { benchDir, linkedHome, sharedHome } from './support/home.js';
import { median, percentile, runsFromEnv } from './support/stats.js';

const rounds = runsFromEnv('ROUNDS', 50);
const { paths: shared } = await sharedHome();
const work = await benchDir(shared.home, 'prebuilt-pg');
const pg = await startPostgres();
const opened: Prescient[] = [];
try {
  const telemetry = join(work, 'telemetry.ndjson');
  await writeFile(telemetry, [...sampleTelemetry({ days: 7, endMs: Date.UTC(2026, 10, 28) })].map((e) => JSON.stringify(e)).join('\n'));
  const layers = join(work, 'layers');
  const open = async (name: 'sqlite' | 'postgres'): Promise<Prescient> => {
    const home = await linkedHome(join(work, name), shared, { layers });
    await writeFile(join(home, 'identify.json'), JSON.stringify({ rules: [], fallbackCategory: 'general' }));
    const store = name === 'postgres' ? { kind: 'postgres', url: pg.url } : { kind: 'sqlite' };
    await writeFile(join(home, 'config.json'), JSON.stringify({ store }), { mode: 0o600 });
    const p = await openPrescient({ home });
    opened.push(p);
    await importFiles({ path: telemetry, format: 'ndjson', ingestor: (await p.ingestion()).ingestor });
    return p;
  };
  await mkdir(layers, { recursive: true });
  const homes = { sqlite: await open('sqlite'), postgres: await open('postgres') };
  const workflows = { sqlite: await homes.sqlite.workflow(), postgres: await homes.postgres.workflow() };
  console.log('first builds (one per client and home; the second home\'s are warm)…');
  for (const w of Object.values(workflows)) for (const c of sampleClients) await w.handle({ clientId: c.id });
  const by: Record<'sqlite' | 'postgres', number[]> = { sqlite: [], postgres: [] };
  for (let round = 0; round < rounds; round++) {
    for (const name of round % 2 === 0 ? (['sqlite', 'postgres'] as const) : (['postgres', 'sqlite'] as const)) {
      for (const c of sampleClients) {
        const t = performance.now();
        const r = await workflows[name].handle({ clientId: c.id });
        by[name].push(performance.now() - t);
        if (r.source !== 'prebuilt') throw new Error(`${name}: ${c.id} answered ${r.source}`);
      }
    }
  }
  console.log(`prebuilt hit, request → grant in process (${rounds} rounds × ${sampleClients.length} clients per store, alternating)`);
  for (const name of ['sqlite', 'postgres'] as const) {
    console.log(`${name.padEnd(9)} median ${median(by[name]).toFixed(2).padStart(7)} ms   p95 ${percentile(by[name], 95).toFixed(2).padStart(7)} ms`);
  }
  console.log(`postgres / sqlite: median ×${(median(by.postgres) / median(by.sqlite)).toFixed(2)}, p95 ×${(percentile(by.postgres, 95) / percentile(by.sqlite, 95)).toFixed(2)}`);
} finally {
  for (const p of opened) await p.close();
  await pg.stop();
  await rm(work, { recursive: true, force: true });
}
