// The prebuilt-hit path in process: `workflow.handle` for the quickstart's four clients, whose
// images are all prepared (no pipeline run, no HTTP), on a quickstart home (test/support's: the
// quickstart's telemetry, its three trained categories, identify.json, every client prepared).
// What is left is the repeated work of every request: identification, the predictor's reuse
// check, the plan, the registry's `latest`, the grant and the seed. Median and p95 of each run,
// and the median of the runs' medians; also the process's CPU time per hit (user + system), which
// other load on the machine disturbs far less than the wall clock. With CPU_PROF=<dir> the timed loop of the last run is
// profiled (node:inspector) into <dir>/prebuilt-hit.cpuprofile. HTTP=1 asks over HTTP instead
// (POST /v1/requests with the admin credential, as bench/request-latency does).
// PREBUILT_HOME=<dir> reuses a home made so before (and keeps it): to compare two trees on one home.
//   bash scripts/bench prebuilt-hit            (env: BENCH_RUNS=5, HITS=400 per run)
import { Session } from 'node:inspector/promises';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openPrescient } from '../src/app/open-prescient.js';
import { createApp, listen } from '../src/server/app.js';
import { requestRoutes } from '../src/server/routes/requests.js';
import type { RequestResult } from '../src/workflow/request-result.js';
import { quickstartClients, quickstartHome } from '../test/support/quickstart-home.js';
import { median, percentile, runsFromEnv } from './support/stats.js';

const runs = runsFromEnv('BENCH_RUNS', 5);
const hits = runsFromEnv('HITS', 400);
const profileDir = process.env['CPU_PROF'];

console.log('setting up: a quickstart home (trained once per test home, four clients prepared)…');
const given = process.env['PREBUILT_HOME'];
const { home, remove } = given ? { home: given, remove: async () => undefined } : await quickstartHome();
// As `serve` opens it: the agent's URL set, so consent is read at every request.
const prescient = await openPrescient({ home, agentUrl: 'http://127.0.0.1:9/' });
try {
  const workflow = await prescient.workflow();
  const grants = await prescient.grants();
  const server = process.env['HTTP'] === '1' ? createApp({ routes: [requestRoutes({ workflow })], auth: grants.edgeAuth() }) : undefined;
  const port = server ? (await listen(server, 0)).port : 0;
  const admin = `Basic ${Buffer.from(`admin:${grants.credentials.admin.secret}`).toString('base64')}`;
  const handle = async (clientId: string): Promise<RequestResult> => {
    if (!server) return workflow.handle({ clientId });
    const res = await fetch(`http://127.0.0.1:${port}/v1/requests`, { method: 'POST', headers: { authorization: admin, 'content-type': 'application/json' }, body: JSON.stringify({ clientId }) });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`${res.status} ${text}`);
    return JSON.parse(text) as RequestResult;
  };
  const ask = async (clientId: string): Promise<void> => {
    const r = await handle(clientId);
    if (r.source !== 'prebuilt') throw new Error(`${clientId} answered ${r.source}`);
  };
  for (const c of quickstartClients) await ask(c); // warm: the first request of each reads everything once
  const medians: number[] = [];
  const cpus: number[] = [];
  for (let run = 0; run < runs; run++) {
    const session = profileDir && run === runs - 1 ? new Session() : undefined;
    if (session) {
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
    }
    const xs: number[] = [];
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < hits; i++) {
      const t = performance.now();
      await ask(quickstartClients[i % quickstartClients.length]!);
      xs.push(performance.now() - t);
    }
    const cpu = process.cpuUsage(cpu0);
    const cpuMs = (cpu.user + cpu.system) / 1000 / hits;
    if (session && profileDir) {
      const { profile } = await session.post('Profiler.stop');
      await mkdir(profileDir, { recursive: true });
      await writeFile(join(profileDir, 'prebuilt-hit.cpuprofile'), JSON.stringify(profile));
      session.disconnect();
    }
    medians.push(median(xs));
    cpus.push(cpuMs);
    console.log(`run ${run + 1}: n=${xs.length}  median ${median(xs).toFixed(2)} ms  p95 ${percentile(xs, 95).toFixed(2)} ms  CPU ${cpuMs.toFixed(2)} ms/hit`);
  }
  if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  console.log(`prebuilt hit ${server ? 'over HTTP' : 'in process'}: median of ${runs} run medians ${median(medians).toFixed(2)} ms, CPU ${median(cpus).toFixed(2)} ms/hit (median of runs)`);
} finally {
  await prescient.close();
  await remove();
}
