// Issue 7 benchmark: time from POST /v1/requests to the grant, over real HTTP, through the
// production workflow (`openRequestWorkflow`: identification rules, the trained models over the
// telemetry store, the pipeline, the registry), for
//   - a prebuilt hit (the client's latest image has the plan of its vector: no pipeline run),
//   - a warm build (a new client whose plan's layers are all in the layer cache: pipeline + register),
//   - a cold build (an empty layer cache: every layer is built, packages from the warm apt cache).
// The history: the synthetic telemetry of the quickstart's four clients, trained per category.
// The mix: each round asks for the four known clients (hits after their first build), one new
// client of the web category (warm) and, BENCH_RUNS times, one with an empty layer cache (cold).
// Median and p95 per kind. Target: a prebuilt hit in ≤ 50 ms.
//   bash scripts/bench request-latency            (env: BENCH_RUNS=3, ROUNDS=10)
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { paths } from '../src/core/config.js';
import { sampleClients, sampleTelemetry } from '../src/demo/sample-telemetry.js';
import { Grants } from '../src/grants/grants.js';
import { archivePackageIndex } from '../src/predict/archive-package-index.js';
import { storeHistory } from '../src/predict/store-history.js';
import { train } from '../src/predict/train.js';
import { openRegistry } from '../src/registry/registry.js';
import { createApp, listen } from '../src/server/app.js';
import { requestRoutes } from '../src/server/routes/requests.js';
import { importFiles } from '../src/telemetry/import-files.js';
import { openPrescient } from '../src/app/open-prescient.js';
import { workflowConfigFiles, openRequestWorkflow } from '../src/workflow/open-request-workflow.js';
import type { RequestResult } from '../src/workflow/request-result.js';
import type { RequestWorkflow } from '../src/workflow/request-workflow.js';
import { benchDir, linkedHome, sharedHome } from './support/home.js';
import { median, percentile, runsFromEnv } from './support/stats.js';

const runs = runsFromEnv('BENCH_RUNS', 3);
const rounds = runsFromEnv('ROUNDS', 10);
const { paths: shared } = await sharedHome();
const work = await benchDir(shared.home, 'request');
// The base and the apt cache are shared with this installation; the store, models, registry and secrets are the bench's own.
const home = await linkedHome(join(work, 'home'), shared);
const p = { ...paths(home), layers: shared.layers };

console.log('setting up: synthetic telemetry of 4 clients, training 3 categories (minutes)…');
const ingestion = await (await openPrescient({ home })).ingestion();
const telemetry = join(work, 'telemetry.ndjson');
await writeFile(telemetry, [...sampleTelemetry({ days: 14, endMs: Date.UTC(2026, 10, 28) })].map((e) => JSON.stringify(e)).join('\n'));
await importFiles({ path: telemetry, format: 'ndjson', ingestor: ingestion.ingestor });
const packageIndex = await archivePackageIndex({ codename: 'bookworm', cacheDir: join(shared.packageCache, 'contents') });
for (const category of ['web', 'database', 'dev']) {
  await train({ history: storeHistory(ingestion.store), modelsDir: p.models, scope: { kind: 'category', id: category }, packageIndex, timeBudgetMs: 60_000 });
}
await writeFile(workflowConfigFiles(p).identify, JSON.stringify({ rules: [{ kind: 'parameters', match: { team: 'web' }, category: 'web' }], fallbackCategory: 'general' }));

const registry = await openRegistry({ root: p.registry });
const grants = await Grants.open({ secretsDir: p.secrets });
const workflowWith = async (layers: string): Promise<RequestWorkflow> => openRequestWorkflow({ paths: { ...p, layers, runtime: join(work, 'run') }, registry, grants, telemetry: ingestion });
// One long-lived workflow, as in `serve`; a cold request goes to a second one over an empty layer cache.
const main = await workflowWith(p.layers);
let workflow = main;
const server = createApp({ routes: [requestRoutes({ workflow: { handle: (...a) => workflow.handle(...a), cancel: (id) => workflow.cancel(id) } })], auth: grants.edgeAuth() });
const { port } = await listen(server, 0);
const admin = `Basic ${Buffer.from(`admin:${grants.credentials.admin.secret}`).toString('base64')}`;
const ask = async (body: object): Promise<{ ms: number; r: RequestResult }> => {
  const t = performance.now();
  const res = await fetch(`http://127.0.0.1:${port}/v1/requests`, { method: 'POST', headers: { authorization: admin, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${res.status} ${text}`);
  return { ms: performance.now() - t, r: JSON.parse(text) as RequestResult };
};
const line = (name: string, xs: number[]): void => console.log(`${name.padEnd(14)} n=${String(xs.length).padStart(3)}  median ${median(xs).toFixed(1).padStart(9)} ms  p95 ${percentile(xs, 95).toFixed(1).padStart(9)} ms`);

try {
  const by: Record<'prebuilt' | 'warm' | 'cold' | 'first', number[]> = { prebuilt: [], warm: [], cold: [], first: [] };
  // First requests of the known clients fill the layer cache (their builds are not counted).
  for (const c of sampleClients) by.first.push((await ask({ clientId: c.id })).ms);
  for (let round = 0; round < rounds; round++) {
    for (const c of sampleClients) {
      const { ms, r } = await ask({ clientId: c.id });
      if (r.source !== 'prebuilt') throw new Error(`${c.id} answered ${r.source}`);
      by.prebuilt.push(ms);
    }
    const { ms, r } = await ask({ clientId: `newcomer-${round}`, parameters: { team: 'web' } });
    if (r.source !== 'built') throw new Error(`newcomer answered ${r.source}`);
    if (round > 0) by.warm.push(ms); // the first newcomer may build the category's own layers
    if (round < runs) {
      const layers = join(work, `layers-cold-${round}`);
      workflow = await workflowWith(layers);
      const cold = await ask({ clientId: `cold-${round}`, parameters: { team: 'web' } });
      if (cold.r.source !== 'built') throw new Error(`cold run answered ${cold.r.source}`);
      by.cold.push(cold.ms);
      workflow = main;
      await rm(layers, { recursive: true, force: true });
    }
  }
  console.log('request → grant over HTTP, production workflow (trained models over the store, debian-12)');
  line('prebuilt hit', by.prebuilt);
  line('warm build', by.warm);
  line('cold build', by.cold);
  line('(first builds)', by.first);
  console.log(`prebuilt hit target ≤ 50 ms: ${median(by.prebuilt) <= 50 && percentile(by.prebuilt, 95) <= 50 ? 'met' : 'NOT met'} (median and p95)`);
} finally {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await ingestion.close();
  await rm(work, { recursive: true, force: true });
}
