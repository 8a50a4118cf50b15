// Issue 18 benchmark: the dashboard's fleet overview with 1,000 clients (generated: SYNTHETIC,
// no real machine or person), opened in headless Debian Chromium against the real `prescient
// serve`, logged in as the admin, with an empty browser cache each run:
//   - first render: first contentful paint (the page's shell),
//   - interactive: the app rendered the API's answer: the figures of all clients, and the first
//     page (100 rows) of the clients table, searchable,
//   - transferred bytes of that first load (document, script, style, API calls).
// Targets: under 1 s and under 500 KiB.   bash scripts/bench dashboard-overview   (env: BENCH_RUNS=5)
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { paths } from '../src/core/config.js';
import { Grants } from '../src/grants/grants.js';
import { workflowConfigFiles } from '../src/workflow/open-request-workflow.js';
import type { OutcomeEntry } from '../src/workflow/request-outcomes.js';
import { prescient } from '../test/support/cli.js';
import { testHome } from '../test/support/images.js';
import { startServe } from '../test/support/serve.js';
import { median, runsFromEnv } from './support/stats.js';

const clients = 1000;
const runs = runsFromEnv('BENCH_RUNS', 5);
const categories = ['web', 'database', 'dev', 'batch', 'desktop'];
const sources = ['prebuilt', 'prebuilt', 'prebuilt', 'built', 'joined', 'last-good'] as const;

const root = await mkdtemp(join(testHome(), 'bench-dashboard-'));
const home = join(root, 'home');
await mkdir(home, { recursive: true });
try {
  // Two weeks of answers per client (a build ahead, then its own requests), and one hour of resource telemetry each, ingested as a collector would send it.
  const now = Date.now();
  const outcomes: string[] = [];
  const telemetry: string[] = [];
  for (let i = 0; i < clients; i++) {
    const clientId = `synthetic-${String(i).padStart(4, '0')}`;
    const category = categories[i % categories.length]!;
    for (let d = 14; d >= 0; d--) {
      const source = sources[(i + d) % sources.length]!;
      const entry: OutcomeEntry = {
        at: new Date(now - d * 86_400_000 - (i % 600) * 60_000).toISOString(),
        clientId,
        category,
        source,
        proactive: d % 5 === 0,
        version: 1 + Math.floor((14 - d) / 5),
        totalMs: source === 'prebuilt' ? 20 : 60_000,
        ...(source === 'last-good' ? { error: { code: 'EXTERNAL_TOOL', message: 'apt-get install exited 100 (synthetic)' } } : {}),
      };
      outcomes.push(JSON.stringify(entry));
    }
    for (let m = 0; m < 60; m += 5) telemetry.push(JSON.stringify({ kind: 'resource', time: now - (i % 48) * 3_600_000 - m * 60_000, subject: `client:${clientId}`, category, source: 'hypervisor', cpuCores: 4, cpuPercent: 20 + (i % 50), memoryBytes: 2 ** 31, memoryTotalBytes: 2 ** 33 }));
  }
  await writeFile(workflowConfigFiles(paths(home)).outcomes, `${outcomes.join('\n')}\n`);
  await writeFile(join(root, 'telemetry.ndjson'), `${telemetry.join('\n')}\n`);
  const ingested = await prescient(home, ['ingest', join(root, 'telemetry.ndjson'), '--format', 'ndjson']);
  if (ingested.code !== 0) throw new Error(`ingest failed: ${ingested.stderr}`);
  const admin = (await Grants.open({ secretsDir: paths(home).secrets })).credentials.admin.secret;
  const server = await startServe(home);
  const firstRender: number[] = [];
  const interactive: number[] = [];
  const transferred: number[] = [];
  const api: number[] = [];
  try {
    for (let r = 0; r < runs; r++) {
      const profile = await mkdtemp(join(tmpdir(), 'prescient-bench-chromium-'));
      const context = await chromium.launchPersistentContext(profile, {
        executablePath: '/usr/bin/chromium',
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync'],
        viewport: { width: 1280, height: 800 },
      });
      try {
        const page = context.pages()[0] ?? (await context.newPage());
        // Log in through the API (the cookie lands in this fresh profile), so the measured load is the overview alone.
        const login = await page.request.post(`${server.base}/v1/session`, { data: { username: 'admin', secret: admin } });
        if (!login.ok()) throw new Error(`login: ${login.status()}`);
        const t0 = performance.now();
        const answer = await page.request.get(`${server.base}/v1/dashboard/overview`);
        if (!answer.ok()) throw new Error(`overview: ${answer.status()}`);
        api.push(performance.now() - t0);
        let bytes = 0;
        const cdp = await context.newCDPSession(page);
        await cdp.send('Network.enable');
        cdp.on('Network.loadingFinished', (e: { encodedDataLength: number }) => void (bytes += e.encodedDataLength));
        await page.goto(`${server.base}/ui/`);
        // A function, not a string: the page's CSP allows no eval. (This file is compiled without the DOM types.)
        await page.waitForFunction((n) => (globalThis as unknown as { document: { querySelectorAll: (s: string) => { length: number } } }).document.querySelectorAll('tbody tr[data-client]').length === n, 100, { timeout: 60_000, polling: 'raf' });
        const ready = await page.evaluate(() => performance.now());
        const fcp = await page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? Number.NaN);
        await page.waitForLoadState('networkidle');
        firstRender.push(fcp);
        interactive.push(ready);
        transferred.push(bytes);
      } finally {
        await context.close();
        await rm(profile, { recursive: true, force: true });
      }
    }
  } finally {
    await server.stop();
  }
  const kib = (b: number): string => `${(b / 1024).toFixed(1)} KiB`;
  console.log(`dashboard overview, ${clients} synthetic clients, headless Chromium 1280×800, empty cache, ${runs} runs (median):`);
  console.log(`  first render (first contentful paint): ${median(firstRender).toFixed(0)} ms   [${firstRender.map((x) => x.toFixed(0)).join(', ')}]   target < 1000 ms`);
  console.log(`  interactive (figures of ${clients} clients, first 100 rows of the table): ${median(interactive).toFixed(0)} ms   [${interactive.map((x) => x.toFixed(0)).join(', ')}]   target < 1000 ms`);
  console.log(`  the overview API alone (GET /v1/dashboard/overview, ${clients} clients): ${median(api).toFixed(0)} ms   [${api.map((x) => x.toFixed(0)).join(', ')}]`);
  console.log(`  transferred on first load: ${kib(median(transferred))}   [${transferred.map(kib).join(', ')}]   target < 500 KiB`);
} finally {
  await rm(root, { recursive: true, force: true });
}
