// Issue 13 benchmark: the HTTP edge before and after the move to Fastify, in one run.
//   1. Prebuilt-hit latency (POST /v1/requests → grant, answered from the registered image) of
//      `prescient serve` built from the old tree (EDGE_OLD_REV, default: the commit before the
//      framework move, built into a temp git worktree) and from this tree, on one home, requests
//      alternating between the two servers round by round. Target: new p50/p95 ≤ 1.10 × old.
//   2. Malformed requests handled per second by the new server, with its RSS before and after.
//   3. 16 MiB of `1\n` lines to POST /v1/telemetry: time to the 400 (issue: "under a second").
//   bash scripts/bench edge          (env: BENCH_RUNS=5 rounds, REQUESTS=40 per server per round)
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, symlinkSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { paths } from '../src/core/config.js';
import { repoRoot } from '../test/support/repo.js';
import { startServe, type ServeProcess } from '../test/support/serve.js';
import { benchDir, linkedHome, sharedHome } from './support/home.js';
import { median, percentile, runsFromEnv } from './support/stats.js';

const root = repoRoot;
const rounds = runsFromEnv('BENCH_RUNS', 5);
const perRound = runsFromEnv('REQUESTS', 40);
const oldRev = process.env['EDGE_OLD_REV'] ?? execFileSync('git', ['-C', root, 'log', '--format=%H', '--grep=^edge: framework', '-n', '1']).toString().trim() + '^';
const { paths: shared } = await sharedHome();

const work = await benchDir(shared.home, 'edge');
const oldTree = join(work, 'old');
// One home per tree (each registers in its own format and moves its own `latest`), sharing the base and the apt cache.
const homes = { old: join(work, 'home-old'), new: join(work, 'home-new') };
const servers: ServeProcess[] = [];
try {
  console.log(`building the old edge (${oldRev}) in a temp worktree…`);
  execFileSync('git', ['-C', root, 'worktree', 'add', '--detach', oldTree, oldRev], { stdio: 'ignore' });
  symlinkSync(join(root, 'node_modules'), join(oldTree, 'node_modules'));
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(oldTree, 'tsconfig.json')], { stdio: 'inherit' });

  for (const home of Object.values(homes)) await linkedHome(home, shared);
  const adminOf = (tree: string, home: string): string => {
    const secret = (JSON.parse(execFileSync(process.execPath, [join(tree, 'bin/prescient.js'), 'credentials', 'admin', '--json'], { env: { ...process.env, PRESCIENT_HOME: home } }).toString()) as { secret: string }).secret;
    return `Basic ${Buffer.from(`admin:${secret}`).toString('base64')}`;
  };
  const auth = { old: adminOf(oldTree, homes.old), new: adminOf(root, homes.new) };

  const serve = async (tree: string, home: string): Promise<{ port: number; pid: number; authorization: string }> => {
    const s = await startServe(home, [], { cli: join(tree, 'bin/prescient.js') });
    servers.push(s);
    return { port: s.port, pid: s.child.pid!, authorization: tree === root ? auth.new : auth.old };
  };
  const oldServer = await serve(oldTree, homes.old);
  const newServer = await serve(root, homes.new);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  let lastAnswer = '{}';
  const ask = (server: { port: number; authorization: string }, anySource = false): Promise<number> =>
    new Promise((res, rej) => {
      const t = performance.now();
      const req = request({ host: '127.0.0.1', port: server.port, path: '/v1/requests', method: 'POST', agent, headers: { authorization: server.authorization, 'content-type': 'application/json' } }, (r) => {
        let text = '';
        r.on('data', (c: Buffer) => (text += c.toString()));
        r.on('end', () => {
          if (r.statusCode !== 200 || (!anySource && !text.includes('"source":"prebuilt"'))) rej(new Error(`${r.statusCode} ${text.slice(0, 300)}`));
          else {
            lastAnswer = text;
            res(performance.now() - t);
          }
        });
      });
      req.on('error', rej);
      req.end('{"clientId":"webshop"}');
    });
  // The first request of each server builds webshop's image on the default vector (minutes); then every answer is a prebuilt hit.
  console.log('first requests: each tree builds (or finds) the image of its plan…');
  await ask(oldServer, true);
  await ask(newServer, true);
  for (let i = 0; i < 20; i++) {
    await ask(oldServer);
    await ask(newServer);
  }
  const times = { old: [] as number[], new: [] as number[] };
  const p50s = { old: [] as number[], new: [] as number[] };
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? (['old', 'new'] as const) : (['new', 'old'] as const);
    for (const which of order) {
      const xs: number[] = [];
      for (let i = 0; i < perRound; i++) xs.push(await ask(which === 'old' ? oldServer : newServer));
      times[which].push(...xs);
      p50s[which].push(median(xs));
    }
  }
  console.log(`prebuilt hit, POST /v1/requests → grant over HTTP, ${rounds} alternating rounds × ${perRound} requests per server`);
  for (const which of ['old', 'new'] as const) {
    console.log(`${which === 'old' ? 'old edge (node:http)' : 'new edge (Fastify)  '}  median ${median(times[which]).toFixed(2)} ms  p95 ${percentile(times[which], 95).toFixed(2)} ms  (per-round medians ${p50s[which].map((x) => x.toFixed(2)).join(' ')})`);
  }
  const r50 = median(times.new) / median(times.old);
  const r95 = percentile(times.new, 95) / percentile(times.old, 95);
  console.log(`new/old: median ×${r50.toFixed(3)}, p95 ×${r95.toFixed(3)}; target ≤ ×1.10: ${r50 <= 1.1 && r95 <= 1.1 ? 'met' : 'NOT met'}`);
  console.log('(the two trees also differ in the workflow behind the edge; the next figure isolates the edge)');

  // 1b. The edge alone: each tree's app, in this process, authenticating the admin credential and
  // answering the same prebuilt-sized JSON, alternating, so only routing, hooks and auth differ.
  const answer = JSON.parse(lastAnswer) as unknown;
  const oldApp = (await import(join(oldTree, 'dist/src/server/app.js'))) as { createApp: (o: unknown) => import('node:http').Server; listen: (s: unknown, p: number) => Promise<{ port: number }> };
  const oldGrantsMod = (await import(join(oldTree, 'dist/src/grants/grants.js'))) as { Grants: { open: (o: { secretsDir: string }) => Promise<{ principalOf: (req: unknown) => Promise<unknown> }> } };
  const oldHttp = (await import(join(oldTree, 'dist/src/server/http-error.js'))) as { sendJson: (res: unknown, status: number, body: unknown) => void };
  const oldGrants = await oldGrantsMod.Grants.open({ secretsDir: paths(homes.old).secrets });
  const oldEdge = oldApp.createApp({ routes: [[{ method: 'POST', path: /^\/v1\/requests$/, handler: async ({ req, res }: { req: import('node:http').IncomingMessage; res: unknown }) => { await oldGrants.principalOf(req); for await (const _ of req) void _; oldHttp.sendJson(res, 200, answer); } }]] });
  const oldEdgePort = (await oldApp.listen(oldEdge, 0)).port;
  const { createApp, listen } = await import('../src/server/app.js');
  const { sendJson } = await import('../src/server/http-error.js');
  const { Grants } = await import('../src/grants/grants.js');
  const newGrants = await Grants.open({ secretsDir: paths(homes.new).secrets });
  const { pino } = await import('pino');
  const devNull = pino.destination('/dev/null');
  const newEdge = createApp({ logger: pino({ base: null }, devNull), auth: newGrants.edgeAuth(), routes: [[{ method: 'POST', path: '/v1/requests', scope: 'credential', summary: 'bench', handler: async ({ req, res }) => { for await (const _ of req) void _; sendJson(res, 200, answer); } }]] });
  const newEdgePort = (await listen(newEdge, 0)).port;
  const edgeTimes = { old: [] as number[], new: [] as number[] };
  const edgeServers = { old: { port: oldEdgePort, authorization: auth.old }, new: { port: newEdgePort, authorization: auth.new } };
  for (let i = 0; i < 200; i++) for (const w of ['old', 'new'] as const) await ask(edgeServers[w], true);
  for (let round = 0; round < rounds * 2; round++) {
    for (const w of round % 2 === 0 ? (['old', 'new'] as const) : (['new', 'old'] as const)) for (let i = 0; i < 500; i++) edgeTimes[w].push(await ask(edgeServers[w], true));
  }
  for (const w of ['old', 'new'] as const) console.log(`edge only, ${w === 'old' ? 'node:http' : 'Fastify  '}  median ${median(edgeTimes[w]).toFixed(3)} ms  p95 ${percentile(edgeTimes[w], 95).toFixed(3)} ms  (n=${edgeTimes[w].length})`);
  console.log(`edge only new/old: median ×${(median(edgeTimes.new) / median(edgeTimes.old)).toFixed(3)}, p95 ×${(percentile(edgeTimes.new, 95) / percentile(edgeTimes.old, 95)).toFixed(3)}`);
  oldEdge.close();
  await newEdge.close();

  // 2. Malformed requests per second, new server only (the old one dies at the first `GET //`).
  const rss = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
  const malformed = ['GET // HTTP/1.1\r\nHost: x\r\n\r\n', 'GET http://[ HTTP/1.1\r\nHost: x\r\n\r\n', 'GET /v2/../../etc/manifests/x HTTP/1.1\r\nHost: x\r\n\r\n', 'POST /v1/telemetry HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}', `GET /v1/token HTTP/1.1\r\nHost: x\r\nAuthorization: Basic ${Buffer.from('__proto__:x').toString('base64')}\r\n\r\n`, '\x00\x01garbage\r\n\r\n'];
  const raw = (port: number, bytes: string): Promise<void> =>
    new Promise((res) => {
      const s = connect(port, '127.0.0.1');
      s.on('data', () => undefined);
      s.on('error', () => res());
      s.on('close', () => res());
      s.write(bytes.replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n'));
    });
  const before = rss(newServer.pid);
  const rates: number[] = [];
  for (let run = 0; run < rounds; run++) {
    const n = 3000;
    let next = 0;
    const t = performance.now();
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (next < n) await raw(newServer.port, malformed[next++ % malformed.length]!);
    }));
    rates.push(n / ((performance.now() - t) / 1000));
  }
  const afterRss = rss(newServer.pid);
  console.log(`malformed requests: median ${median(rates).toFixed(0)}/s over ${rounds} runs of 3000 (${rates.map((r) => r.toFixed(0)).join(' ')}); server RSS ${(before / 2 ** 20).toFixed(0)} MiB before, ${(afterRss / 2 ** 20).toFixed(0)} MiB after`);

  // 3. The flood of invalid lines.
  const flood = Buffer.alloc(16 * 1024 * 1024 - 2, '1\n');
  const floodOnce = (): Promise<number> =>
    new Promise((res, rej) => {
      const t = performance.now();
      const req = request({ host: '127.0.0.1', port: newServer.port, path: '/v1/telemetry', method: 'POST', headers: { authorization: newServer.authorization, 'content-type': 'application/x-ndjson', 'content-length': flood.length } }, (r) => {
        r.resume();
        r.on('end', () => (r.statusCode === 400 ? res(performance.now() - t) : rej(new Error(`flood answered ${r.statusCode}`))));
      });
      req.on('error', rej);
      req.end(flood);
    });
  const floodRss = rss(newServer.pid);
  const floods: number[] = [];
  for (let i = 0; i < rounds; i++) floods.push(await floodOnce());
  console.log(`16 MiB of "1\\n" lines → 400: median ${median(floods).toFixed(0)} ms over ${rounds} (${floods.map((x) => x.toFixed(0)).join(' ')}); RSS ${(floodRss / 2 ** 20).toFixed(0)} → ${(rss(newServer.pid) / 2 ** 20).toFixed(0)} MiB; target < 1000 ms: ${median(floods) < 1000 ? 'met' : 'NOT met'}`);
} finally {
  for (const s of servers) await s.stop();
  try {
    execFileSync('git', ['-C', root, 'worktree', 'remove', '--force', oldTree], { stdio: 'ignore' });
  } catch {
    /* not created */
  }
  rmSync(work, { recursive: true, force: true });
}
