// Issue 14 benchmark: the in-guest agent's footprint inside a booted guest — peak resident memory
// of its processes (sampled every 200 ms in the guest), its CPU share over BENCH_MINUTES (10)
// minutes from its first report on (systemd's count for the whole unit: the cgroup of a
// long-lived collector, or each oneshot run's "Consumed" line; and the agent user's processes:
// process accounting for those that ended, /proc for those still running), the processes it
// started a minute — and the delay from an event in the guest (a command not found) to its row
// in the store, median of BENCH_PROBES (5). One boot, under KVM when it works here, TCG otherwise.
//   bash scripts/bench agent-footprint
import { execFile, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { paths } from '../src/core/config.js';
import { run } from '../src/core/exec.js';
import { openSqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { createAnonymiser } from '../src/telemetry/anonymise.js';
import { loadOrCreateKeyring } from '../src/telemetry/pseudonym-keys.js';
import { freePort, startVm } from '../src/vm/qemu-vm.js';
import { cliPath } from '../test/support/repo.js';
import { startServe } from '../test/support/serve.js';
import { smallResources, tcpInbound, writeCategoryVectors } from '../test/support/vectors.js';
import { benchDir, linkedHome, sharedHome } from './support/home.js';
import { median, runsFromEnv, seconds } from './support/stats.js';

const minutes = runsFromEnv('BENCH_MINUTES', 10);
const probes = runsFromEnv('BENCH_PROBES', 5);
const client = 'agentbench';
const { paths: p } = await sharedHome();
const home = await linkedHome(await benchDir(p.home, 'agent-footprint'), p, { layers: p.layers });
const cli = async (args: string[]): Promise<any> =>
  JSON.parse((await promisify(execFile)(process.execPath, [cliPath, '--json', ...args], { env: { ...process.env, PRESCIENT_HOME: home }, maxBuffer: 64 << 20 })).stdout);
const key = join(home, 'key');
await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
await writeCategoryVectors(home, {
  bench: {
    model: { id: 'bench', version: '1' },
    resources: smallResources,
    software: [{ name: 'nginx', probability: 0.95 }],
    services: [{ name: 'nginx', expectedLoad: { requestsPerSecond: 5 }, concurrency: 8, ports: [{ port: 80, protocol: 'tcp' }] }],
    network: tcpInbound([22, 80]),
  },
});
await writeFile(join(home, 'identify.json'), JSON.stringify({ rules: [], fallbackCategory: 'bench' }));
await cli(['consent', 'grant', `client:${client}`]);
// The client's login, registered as a client does: the request's own seed carries it.
await cli(['ssh-keys', 'add', client, `${key}.pub`, '--user', 'bench']);
const serve = await startServe(home, ['--agent-url', 'http://10.0.2.100']);
const admin = ((await cli(['credentials', 'admin'])) as { secret: string }).secret;
const res = await fetch(`${serve.url}/v1/requests`, {
  method: 'POST',
  headers: { authorization: `Basic ${Buffer.from(`admin:${admin}`).toString('base64')}`, 'content-type': 'application/json' },
  body: JSON.stringify({ clientId: client }),
});
const answer = (await res.json()) as { image: { reference: string }; seed: Record<'meta-data' | 'user-data', string>; vmSpec: { vcpus: number; memoryMiB: number } };
const work = join(home, 'vm');
const top = ((await cli(['images', 'checkout', answer.image.reference, work])) as { top: string }).top;
const disk = join(work, 'boot.qcow2');
await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', top, '-F', 'qcow2', disk]);
const seed = join(work, 'seed');
await mkdir(seed);
await writeFile(join(seed, 'meta-data'), answer.seed['meta-data']);
await writeFile(join(seed, 'user-data'), answer.seed['user-data']);
await run('genisoimage', ['-quiet', '-output', `${seed}.iso`, '-volid', 'cidata', '-joliet', '-rock', join(seed, 'user-data'), join(seed, 'meta-data')]);
const sshPort = await freePort();
const vm = await startVm({
  disk,
  vcpus: answer.vmSpec.vcpus,
  memoryMiB: answer.vmSpec.memoryMiB,
  forwards: [{ guestPort: 22, hostPort: sshPort }],
  guestForwards: [{ guestAddress: '10.0.2.100', guestPort: 80, hostPort: serve.port }],
  restrict: true,
  extraDrives: [{ file: `${seed}.iso`, format: 'raw', media: 'cdrom' }],
  runtimeDir: p.runtime,
});
const ssh = (command: string): Promise<{ code: number; stdout: string }> =>
  new Promise((resolve) => {
    const c = spawn('ssh', ['-i', key, '-p', String(sshPort), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', '-o', 'LogLevel=ERROR', 'bench@127.0.0.1', command]);
    let stdout = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.on('close', (code) => resolve({ code: code ?? 255, stdout }));
  });
try {
  const bootT0 = performance.now();
  while ((await ssh('true')).code !== 0) await new Promise((r) => setTimeout(r, 5000));
  console.log(`boot to SSH login: ${seconds(performance.now() - bootT0)} (${vm.accel})`);
  // The steady state, not the start: the window opens once the agent has sent a report (its
  // first reads everything accounting saw since boot; the timer starts it on a minute).
  const reported = Date.now();
  while ((await ssh('sudo -n test -e /var/lib/prescient-agent/counters')).code !== 0 && Date.now() - reported < 5 * 60_000) await new Promise((r) => setTimeout(r, 5000));
  await new Promise((r) => setTimeout(r, 20_000));

  // Footprint: RSS of the agent's processes sampled in the guest; CPU from process accounting
  // (processes that ended in the window) and /proc (the agent's processes still running at its
  // end: a long-lived collector never reaches process accounting); processes started, counted
  // from process accounting: the agent user's, and root's `prepare` with what it started.
  const sampler = ssh(
    `end=$(( $(date +%s) + ${minutes * 60} )); peak=0; while [ $(date +%s) -lt $end ]; do r=$(ps -u prescient-agent -o rss= 2>/dev/null | awk '{s+=$1} END {print s+0}'); [ "$r" -gt "$peak" ] && peak=$r; sleep 0.2; done; echo $peak`,
  );
  const uid = (await ssh('id -u prescient-agent')).stdout.trim();
  // pid and utime+stime (ticks) of every running process of the agent user.
  const live = async (): Promise<Map<string, number>> =>
    new Map(
      (await ssh(`for p in $(pgrep -u ${uid}); do cut -d' ' -f1,14,15 /proc/$p/stat 2>/dev/null; done`)).stdout
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(' '))
        .map(([pid, u, s]) => [pid!, Number(u) + Number(s)]),
    );
  const unitCpuNs = async (): Promise<{ ns: number; since: string }> => {
    // key=value lines: with --value, systemctl prints in its own order, not the order asked.
    const props = Object.fromEntries(
      (await ssh('systemctl show -p CPUUsageNSec -p ActiveEnterTimestampMonotonic prescient-agent.service')).stdout
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    ) as Record<string, string | undefined>;
    return { ns: Number(props.CPUUsageNSec), since: props.ActiveEnterTimestampMonotonic ?? '' };
  };
  const pacctSize = Number((await ssh('stat -c %s /var/log/account/pacct')).stdout.trim());
  const liveBefore = await live();
  const unitBefore = await unitCpuNs();
  const wallT0 = Date.now();
  const peakKiB = Number((await sampler).stdout.trim());
  const wallSeconds = (Date.now() - wallT0) / 1000;
  const unitAfter = await unitCpuNs();
  const liveAfter = await live();
  // Records of the window: user+system ticks of the agent's; the count of the agent's and of root's prepare (and its children: a parent is written after them).
  const ended = (
    await ssh(
      `sudo -n tail -c +${pacctSize + 1} /var/log/account/pacct > /tmp/window.pacct; /usr/sbin/dump-acct /tmp/window.pacct 2>/dev/null | awk -F'|' -v u=${uid} '{ n++; c[n] = $1; sub(/ +$/, "", c[n]); id[n] = $6 + 0; pid[n] = $10 + 0; pp[n] = $11 + 0; t[n] = $3 + $4; if (c[n] == "prepare" && id[n] == 0) root[pid[n]] = 1 }
        END { for (i = n; i >= 1; i--) if (pp[i] in root) root[pid[i]] = 1; for (i = 1; i <= n; i++) { if (id[i] == u) { a++; s += t[i] } else if (pid[i] in root) r++ } printf "%d %d %.0f", a, r, s }'`,
    )
  ).stdout
    .trim()
    .split(' ')
    .map(Number) as [number, number, number];
  const [agentProcs, rootProcs, endedTicks] = ended;
  let liveTicks = 0;
  for (const [pid, t] of liveAfter) liveTicks += t - (liveBefore.get(pid) ?? 0);
  const hz = Number((await ssh('getconf CLK_TCK')).stdout.trim()) || 100;
  const cpuSeconds = (endedTicks + liveTicks) / hz;
  let unitCpu: number;
  let unitHow: string;
  if (unitBefore.since !== '' && unitBefore.since === unitAfter.since && Number.isFinite(unitAfter.ns - unitBefore.ns)) {
    // A long-lived unit: its cgroup's own count over the window.
    unitCpu = (unitAfter.ns - unitBefore.ns) / 1e9;
    unitHow = 'its cgroup over the window';
  } else {
    // One run a timer starts: systemd's "Consumed … CPU time" line per run.
    const consumed = await ssh(
      `sudo -n journalctl -q -u prescient-agent.service --since @${Math.floor(wallT0 / 1000)} -o cat | grep -o 'Consumed [0-9.a-z ]* CPU time' | awk '{t = 0; for (i = 2; i < NF - 1; i++) { v = $i + 0; if ($i ~ /ms$/) t += v / 1000; else if ($i ~ /us$/) t += v / 1e6; else if ($i ~ /min$/) t += v * 60; else if ($i ~ /s$/) t += v } s += t; n++} END {printf "%.3f %d", s, n}'`,
    );
    const [s, n] = consumed.stdout.trim().split(' ').map(Number) as [number, number];
    unitCpu = s;
    unitHow = `${n} runs' "Consumed" lines`;
  }
  const perMinute = (n: number): string => (n / (wallSeconds / 60)).toFixed(1);
  console.log(`agent unit CPU (systemd, ${unitHow}): ${unitCpu.toFixed(2)} s in ${wallSeconds.toFixed(0)} s = ${((100 * unitCpu) / wallSeconds).toFixed(3)} % of one vCPU (budget 1 %)`);
  console.log(`agent peak resident memory: ${(peakKiB / 1024).toFixed(1)} MiB (budget 15 MiB), over ${minutes} min`);
  console.log(`agent CPU (its user's processes): ${cpuSeconds.toFixed(2)} s in ${wallSeconds.toFixed(0)} s = ${((100 * cpuSeconds) / wallSeconds / answer.vmSpec.vcpus).toFixed(3)} % of the machine, ${((100 * cpuSeconds) / wallSeconds).toFixed(3)} % of one vCPU (budget 1 %)`);
  console.log(`processes started a minute: ${perMinute(agentProcs)} by the agent user, ${perMinute(rootProcs)} by root's prepare (${agentProcs} and ${rootProcs} in the window)`);

  // Delay: a command not found in the guest until its row is in the store.
  const subject = createAnonymiser({ keyring: loadOrCreateKeyring(paths(home).secrets) }).pseudonym('client', client);
  const store = openSqliteStore({ file: paths(home).store });
  const delays: number[] = [];
  try {
    for (let i = 0; i < probes; i++) {
      const name = `benchprobe${i}x${Date.now() % 100000}`;
      const t0 = Date.now();
      await ssh(`bash -lc '${name}' 2>/dev/null; true`);
      for (;;) {
        if ((await store.guestActivity(subject, { fromMs: t0 - 60_000 })).programs.some((x) => x.name === name)) break;
        await new Promise((r) => setTimeout(r, 1000));
      }
      delays.push(Date.now() - t0);
      console.log(`probe ${i + 1}: ${seconds(delays.at(-1)!)}`);
    }
  } finally {
    await store.close();
  }
  console.log(`event in the guest → row in the store: median ${seconds(median(delays))} of ${probes} (the agent reports once a minute)`);
} finally {
  await vm.stop();
  await serve.stop();
}
