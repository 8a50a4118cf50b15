// Issue 7 benchmark: time from POST /v1/requests to the grant, over real HTTP, for
//   - a prebuilt hit (the client's latest was built for this vector: no pipeline run),
//   - a warm build (a new vector whose layers are all in the layer cache: pipeline + register),
//   - a cold build (an empty layer cache: every layer is built; the default small vector).
// Median and p95 of BENCH_RUNS builds (3) and 50 hits. Target: a prebuilt hit in ≤ 50 ms.
//   bash scripts/bench request-latency
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { paths } from '../src/core/config.js';
import { Grants } from '../src/grants/grants.js';
import { parseIdentifyConfig } from '../src/identify/rules.js';
import { buildDebianBase } from '../src/image/bases/build.js';
import { findBase } from '../src/image/bases/catalog.js';
import { recipeFor } from '../src/image/bases/recipes.js';
import { assemblePipeline } from '../src/pipeline/plan.js';
import { openRegistry } from '../src/registry/registry.js';
import { createApp, listen } from '../src/server/app.js';
import { requestRoutes } from '../src/server/routes/requests.js';
import { CategoryVectorPredictor } from '../src/workflow/category-predictor.js';
import { PipelineImageBuilder } from '../src/workflow/image-builder.js';
import type { Predictor } from '../src/workflow/predictor.js';
import { RequestWorkflow, type RequestResult } from '../src/workflow/request-workflow.js';
import { median, percentile, runsFromEnv } from './support/stats.js';

const p = paths();
const runs = runsFromEnv('BENCH_RUNS', 3);
await buildDebianBase(recipeFor('debian-12'), { basesDir: p.bases, runtimeDir: p.runtime });
const work = await mkdtemp(join(p.home, 'bench-request-'));
const registry = await openRegistry({ root: join(work, 'registry') });
const grants = await Grants.open({ secretsDir: join(work, 'secrets') });
const categories = CategoryVectorPredictor.fromObject({});
/** Per-client confidence: changing it changes the vector digest but no layer. */
const confidence = new Map<string, number>();
const predictor: Predictor = {
  predict: async (input) => ({ ...(await categories.predict(input)), confidence: confidence.get(input.clientId) ?? 0.5 }),
};
const workflowWith = (layers: string): RequestWorkflow =>
  new RequestWorkflow({
    identifyConfig: parseIdentifyConfig({}),
    predictor,
    registry,
    grants,
    builder: new PipelineImageBuilder({ paths: { ...p, layers, runtime: join(work, 'run') }, registry, pipeline: assemblePipeline() }),
    resolveBase: (name) => findBase(p.bases, name),
  });
let workflow = workflowWith(p.layers);
const server = createApp({ routes: [requestRoutes({ workflow: { handle: (...a) => workflow.handle(...a), cancel: (id) => workflow.cancel(id) }, grants })] });
const { port } = await listen(server, 0);
const admin = `Basic ${Buffer.from(`admin:${grants.credentials.admin.secret}`).toString('base64')}`;
const ask = async (clientId: string): Promise<{ ms: number; r: RequestResult }> => {
  const t = performance.now();
  const res = await fetch(`http://127.0.0.1:${port}/v1/requests`, { method: 'POST', headers: { authorization: admin, 'content-type': 'application/json' }, body: JSON.stringify({ clientId }) });
  const r = (await res.json()) as RequestResult;
  if (res.status !== 200) throw new Error(JSON.stringify(r));
  return { ms: performance.now() - t, r };
};
const line = (name: string, xs: number[]): void => console.log(`${name.padEnd(14)} n=${String(xs.length).padStart(3)}  median ${median(xs).toFixed(1).padStart(9)} ms  p95 ${percentile(xs, 95).toFixed(1).padStart(9)} ms`);

try {
  const cold: number[] = [];
  for (let i = 0; i < runs; i++) {
    const layers = join(work, `layers-cold-${i}`);
    workflow = workflowWith(layers);
    const { ms, r } = await ask(`cold-${i}`);
    if (r.source !== 'built') throw new Error(`cold run answered ${r.source}`);
    cold.push(ms);
    await rm(layers, { recursive: true, force: true });
  }
  workflow = workflowWith(p.layers);
  await ask('warm'); // fill the shared layer cache for this vector shape
  const warm: number[] = [];
  for (let i = 0; i < runs; i++) {
    confidence.set('warm', 0.5 + (i + 1) / 100);
    const { ms, r } = await ask('warm');
    if (r.source !== 'built') throw new Error(`warm run answered ${r.source}`);
    warm.push(ms);
  }
  const hits: number[] = [];
  for (let i = 0; i < 50; i++) {
    const { ms, r } = await ask('warm');
    if (r.source !== 'prebuilt') throw new Error(`hit answered ${r.source}`);
    hits.push(ms);
  }
  console.log('request → grant over HTTP (debian-12, default vector: 2 vCPUs, no extra software)');
  line('prebuilt hit', hits);
  line('warm build', warm);
  line('cold build', cold);
  console.log(`prebuilt hit target ≤ 50 ms: ${median(hits) <= 50 && percentile(hits, 95) <= 50 ? 'met' : 'NOT met'} (median and p95)`);
} finally {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(work, { recursive: true, force: true });
}
