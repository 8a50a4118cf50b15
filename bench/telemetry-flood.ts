/**
 * One client flooding telemetry, and what everyone else sees: the latency of `GET /healthz`
 * while one credential posts BODIES NDJSON bodies of MIB MiB each, all at once, to a real
 * `prescient serve` (its own process, a fresh home per run), sending again after the
 * Retry-After what was refused, until every body is stored. /healthz is asked every 100 ms
 * from this process on its own connection; each run gives its p99 and maximum.
 *
 * Modes, alternating in each run: `on` (the default in-flight limits), `off` (limits so high
 * that nothing is refused: what admission control buys), and with BASELINE_CLI=<another
 * tree's bin/prescient.js> `baseline` (that build as it is, say main before this change).
 * Printed: per mode the median over runs of the p99 and of the maximum, the flood's duration
 * and the 429s, with the load average beside it (the machine may be shared).
 *
 *   bash scripts/bench telemetry-flood     (env: RUNS=3, BODIES=20, MIB=16, BASELINE_CLI=)
 *
 * 2026-12-03, 2 cores shared with a CI run (load ~6.6), RUNS=3 BODIES=20, BASELINE_CLI = main at
 * ebdc28a: /healthz p99 on 264 ms (max 457), off 527 ms (max 768), baseline 3376 ms (max 3678);
 * the flood took 62 s, 60 s and 54 s, 440 bodies refused and sent again with the limits on.
 */
import { rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { floodBody } from '../test/support/flood-body.js';
import { startServe } from '../test/support/serve.js';
import { adminAuthorization, tempHome } from './support/home.js';
import { median, percentile, runsFromEnv } from './support/stats.js';

const runs = runsFromEnv('RUNS', 3);
const bodies = runsFromEnv('BODIES', 20);
const mib = runsFromEnv('MIB', 16);
const baselineCli = process.env['BASELINE_CLI'];
const modes = ['on', 'off', ...(baselineCli ? ['baseline'] : [])] as const;
type Mode = (typeof modes)[number];
const unlimited = ['--max-inflight-mib', '1000000', '--max-inflight-mib-per-credential', '1000000', '--max-inflight-requests', '100000', '--max-inflight-requests-per-credential', '100000'];


function post(port: number, body: Buffer, authorization: string): Promise<{ status: number; retryAfter: number }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/v1/telemetry', method: 'POST', agent: new Agent({ keepAlive: false }), headers: { 'content-type': 'application/x-ndjson', 'content-length': body.length, authorization } },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: Number(res.headers['retry-after'] ?? 1) }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

interface Figures {
  p99: number;
  max: number;
  seconds: number;
  refused: number;
}

async function once(mode: Mode, payload: readonly Buffer[]): Promise<Figures> {
  const home = tempHome('telemetry-flood');
  const serve = await startServe(home, mode === 'off' ? unlimited : [], mode === 'baseline' ? { cli: baselineCli! } : {});
  try {
    const authorization = adminAuthorization(home);
    const health = new Agent({ keepAlive: true, maxSockets: 1 });
    const healthz = async (): Promise<number> => {
      const t = performance.now();
      await new Promise<void>((resolve, reject) => request({ host: '127.0.0.1', port: serve.port, path: '/healthz', agent: health }, (r) => r.resume().on('end', resolve)).on('error', reject).end());
      return performance.now() - t;
    };
    // serve loads TensorFlow.js and the package index just after it starts (a second or more of
    // its thread): the flood starts once /healthz answered quickly five times in a row.
    for (let quick = 0, tries = 0; quick < 5 && tries < 300; tries++) {
      quick = (await healthz()) < 50 ? quick + 1 : 0;
      await sleep(100);
    }
    const latencies: number[] = [];
    let probing = true;
    const probe = (async () => {
      while (probing) {
        latencies.push(await healthz());
        await sleep(100);
      }
    })();
    let refused = 0;
    const t0 = performance.now();
    await Promise.all(
      payload.map(async (body) => {
        for (;;) {
          const r = await post(serve.port, body, authorization);
          if (r.status === 200) return;
          if (r.status !== 429) throw new Error(`${mode}: HTTP ${r.status}`);
          refused++;
          await sleep(r.retryAfter * 1000);
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    probing = false;
    await probe;
    health.destroy();
    return { p99: percentile(latencies, 99), max: Math.max(...latencies), seconds, refused };
  } finally {
    await serve.stop();
    rmSync(home, { recursive: true, force: true });
  }
}

const payload = Array.from({ length: bodies }, (_, k) => floodBody(k, mib, 'client:flood').body);
const results = new Map<Mode, Figures[]>(modes.map((m) => [m, []]));
for (let run = 0; run < runs; run++) {
  // Alternate the order, so neither mode always runs on a warmer (or busier) machine.
  for (const mode of run % 2 === 0 ? modes : [...modes].reverse()) {
    const f = await once(mode, payload);
    results.get(mode)!.push(f);
    process.stderr.write(`run ${run + 1} ${mode}: /healthz p99 ${Math.round(f.p99)} ms, max ${Math.round(f.max)} ms; flood ${f.seconds.toFixed(1)} s, ${f.refused} refused (load ${loadavg()[0]!.toFixed(2)})\n`);
  }
}
console.log(`telemetry flood: ${bodies} bodies of ${mib} MiB from one credential at once, ${runs} runs (median), load ${loadavg()[0]!.toFixed(2)}`);
for (const mode of modes) {
  const fs = results.get(mode)!;
  const label = mode === 'on' ? 'limits on (defaults)' : mode === 'off' ? 'limits off' : `baseline (${baselineCli})`;
  console.log(
    `  ${label.padEnd(24)} /healthz p99 ${Math.round(median(fs.map((f) => f.p99)))} ms, max ${Math.round(median(fs.map((f) => f.max)))} ms; flood done in ${median(fs.map((f) => f.seconds)).toFixed(1)} s, ${Math.round(median(fs.map((f) => f.refused)))} refused`,
  );
}
