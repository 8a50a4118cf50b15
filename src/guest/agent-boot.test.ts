import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { paths } from '../core/config.js';
import { hasCommand, run } from '../core/exec.js';
import type { MachineCredentials, ServiceCredential } from '../pipeline/spec/machine-seed.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import { createAnonymiser } from '../telemetry/anonymise.js';
import { loadOrCreateKeyring } from '../telemetry/pseudonym-keys.js';
import { probePort } from '../vm/port-probes.js';
import { freePort, startVm, type RunningVm } from '../vm/qemu-vm.js';
import { cliPath } from '../../test/support/repo.js';
import { debianBase, testHome, testPaths } from '../../test/support/images.js';
import { startServe, type ServeProcess } from '../../test/support/serve.js';
import { smallResources, tcpInbound, writeCategoryVectors } from '../../test/support/vectors.js';
import { assertNoGuestData } from '../../test/support/guest-store.js';
import { basicAuth } from '../../test/support/basic-auth.js';

/**
 * The in-guest agent booted, once (issue #14's acceptance): a client with in-guest consent asks
 * `prescient serve` for its image (nginx, PostgreSQL, Redis; inbound 22, 80, 5432, 6379); the
 * test boots it under QEMU with the request's seed, the guest reaching the server only through
 * a guestfwd to 127.0.0.1 (user-mode networking, restrict=on: no other address), logs in over
 * SSH with the client's key, runs a workload (programs, a placed dataset read, a command that
 * is not there, a .deb the vector did not predict), and checks that the server holds the agent's
 * events for that client and version and that `prescient accuracy` lists exactly what was used,
 * unused and missed. Then `prescient consent revoke`: the agent's next report is refused (403),
 * it deletes its spool and stops, and no in-guest row is stored again.
 */
const client = 'bootshop';
const canBoot = process.getuid?.() === 0 && (await hasCommand('qemu-system-x86_64')) && (await hasCommand('ssh'));
let home: string;
let dataDir: string | undefined;
let serve: ServeProcess;
let vm: RunningVm | undefined;
let sshPort = 0;
let httpPort = 0;
let own: { username: string; secret: string };
const key = (): string => join(home, 'client-key');

const cli = async (args: string[], timeout = 900_000): Promise<any> => {
  const r = await promisify(execFile)(process.execPath, [cliPath, '--json', ...args], { env: { ...process.env, PRESCIENT_HOME: home }, timeout, maxBuffer: 64 << 20 });
  return JSON.parse(r.stdout);
};

/**
 * One command over SSH. A connection dropped before the command ran (exit 255 in the key
 * exchange: sshd restarted by cloud-init's last stage, seen in CI under load) is tried again, up
 * to three times; a command that ran and failed is not.
 */
async function ssh(command: string, input?: Buffer, timeoutMs = 120_000): Promise<{ code: number; stdout: string; stderr: string }> {
  for (let attempt = 1; ; attempt++) {
    const r = await sshOnce(command, input, timeoutMs);
    if (r.code !== 255 || attempt === 3 || !/kex_exchange_identification|Connection (reset|refused|closed)/.test(r.stderr)) return r;
    await new Promise((resolve) => setTimeout(resolve, 5000));
  }
}

function sshOnce(command: string, input: Buffer | undefined, timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('ssh', ['-i', key(), '-p', String(sshPort), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', '-o', 'LogLevel=ERROR', 'shopper@127.0.0.1', command]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 255, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5000));
  }
}

before(async () => {
  if (!canBoot) return;
  await debianBase();
  home = await mkdtemp(join(testHome(), 'agent-boot-'));
  // The shared base and layer cache of the test run; everything else is this test's.
  await symlink(testPaths().bases, join(home, 'bases'));
  // A fresh test home has no shared layer cache yet (CI): the link must point at a folder.
  await mkdir(testPaths().layers, { recursive: true });
  await mkdir(testPaths().packageCache, { recursive: true });
  await symlink(testPaths().layers, join(home, 'layers'));
  await mkdir(join(home, 'cache'), { recursive: true });
  await symlink(testPaths().packageCache, join(home, 'cache', 'packages'));
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${client}@test`, '-f', key()]);
  dataDir = await mkdtemp(join(tmpdir(), 'prescient-agent-data-'));
  const dataset = join(dataDir, 'catalogue.csv');
  await writeFile(dataset, 'id,name\n1,alpha\n2,beta\n');
  await cli(['datasets', 'add', 'catalogue', dataset, '--max-size', '1MiB', '--destination', '/srv/data/catalogue.csv']);
  await writeCategoryVectors(home, {
    shop: {
      resources: smallResources,
      software: [
        { name: 'nginx', probability: 0.95 },
        { name: 'postgresql', probability: 0.9, programs: ['psql'] },
        { name: 'redis-server', probability: 0.9, programs: ['redis-cli'] },
        { name: 'git', probability: 0.8, programs: ['git'] },
        { name: 'htop', probability: 0.7, programs: ['htop'] },
        { name: 'sudo', probability: 0.9, programs: ['sudo'] },
      ],
      services: [
        { name: 'nginx', expectedLoad: { requestsPerSecond: 5 }, concurrency: 8, ports: [{ port: 80, protocol: 'tcp' }] },
        { name: 'postgresql', expectedLoad: { connections: 5 }, concurrency: 5, ports: [{ port: 5432, protocol: 'tcp' }] },
        { name: 'redis-server', expectedLoad: { connections: 5 }, concurrency: 5, ports: [{ port: 6379, protocol: 'tcp' }] },
      ],
      datasets: [{ source: 'catalogue', destination: '/srv/data/catalogue.csv', sizeBytes: 24, probability: 0.9 }],
      network: tcpInbound([22, 80, 5432, 6379]),
    },
  });
  await writeFile(join(home, 'identify.json'), JSON.stringify({ rules: [], fallbackCategory: 'shop' }));
  await cli(['consent', 'grant', `client:${client}`]);
  own = (await cli(['credentials', 'issue', client])) as { username: string; secret: string };
  serve = await startServe(home, ['--agent-url', 'http://10.0.2.100']);
});

after(async () => {
  await vm?.stop();
  await serve?.stop();
  if (home) await rm(home, { recursive: true, force: true });
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

test('booted: the agent reports a consenting client\'s use; accuracy lists it exactly; a revoke stops it', {
    skip: canBoot ? false : 'needs root, qemu-system-x86_64 and ssh',
    timeout: 60 * 60_000,
  }, async () => {
  const admin = ((await cli(['credentials', 'admin'])) as { secret: string }).secret;
  // The client registers its key and login name itself, with its own credential.
  const pub = (await readFile(`${key()}.pub`, 'utf8')).trim();
  const reg = await fetch(`${serve.url}/v1/clients/${client}/ssh-keys`, {
    method: 'POST',
    headers: { authorization: basicAuth(own), 'content-type': 'application/json' },
    body: JSON.stringify({ key: pub, user: 'shopper' }),
  });
  assert.equal(reg.status, 201, await reg.clone().text());
  const res = await fetch(`${serve.url}/v1/requests`, {
    method: 'POST',
    headers: { authorization: basicAuth({ username: 'admin', secret: admin }), 'content-type': 'application/json' },
    body: JSON.stringify({ clientId: client }),
    signal: AbortSignal.timeout(50 * 60_000),
  });
  const answer = (await res.json()) as { inGuestAgent: boolean; image: { digest: string; reference: string }; seed: { 'meta-data': string; 'user-data': string }; credentials: MachineCredentials; vmSpec: { vcpus: number; memoryMiB: number } };
  assert.equal(res.status, 200, `${JSON.stringify(answer)}\n${serve.stderr().slice(-4000)}`);
  assert.equal(answer.inGuestAgent, true);

  // The client's disk and the request's own seed, as served: the login is the key the client
  // registered (before the request), the services' passwords are in it and in `credentials`.
  assert.match(answer.seed['user-data'], new RegExp(pub.split(' ')[1]!.replace(/[+/]/g, '\\$&')));
  const work = join(home, 'vm');
  const checkout = await cli(['images', 'checkout', answer.image.reference, work]);
  const disk = join(work, 'boot.qcow2');
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', checkout.top ?? checkout.disk ?? join(work, 'disk.qcow2'), '-F', 'qcow2', disk]);
  const seedDir = join(work, 'seed');
  await mkdir(seedDir, { mode: 0o700 });
  await writeFile(join(seedDir, 'meta-data'), answer.seed['meta-data']);
  await writeFile(join(seedDir, 'user-data'), answer.seed['user-data']);
  await run('genisoimage', ['-quiet', '-output', `${seedDir}.iso`, '-volid', 'cidata', '-joliet', '-rock', join(seedDir, 'user-data'), join(seedDir, 'meta-data')]);

  sshPort = await freePort();
  httpPort = await freePort();
  const pgPort = await freePort();
  const redisPort = await freePort();
  const booted = Date.now();
  vm = await startVm({
    disk,
    vcpus: answer.vmSpec.vcpus,
    memoryMiB: answer.vmSpec.memoryMiB,
    forwards: [
      { guestPort: 22, hostPort: sshPort },
      { guestPort: 80, hostPort: httpPort },
      { guestPort: 5432, hostPort: pgPort },
      { guestPort: 6379, hostPort: redisPort },
    ],
    guestForwards: [{ guestAddress: '10.0.2.100', guestPort: 80, hostPort: serve.port }],
    restrict: true,
    extraDrives: [{ file: `${seedDir}.iso`, format: 'raw', media: 'cdrom' }],
    runtimeDir: paths(home).runtime,
  });
  await until('an SSH login with the client key', 20 * 60_000, async () => ((await ssh('true')).code === 0 ? true : undefined));

  process.stderr.write(`agent-boot: SSH login after ${Math.round((Date.now() - booted) / 1000)} s\n`);

  // Every predicted service from the host, with the request's passwords.
  assert.equal((await fetch(`http://127.0.0.1:${httpPort}/`)).status, 200);
  const credential = (service: string): ServiceCredential => {
    const c = answer.credentials.services.find((x) => x.service === service);
    assert.ok(c, `${service} has a password in the answer: ${JSON.stringify(answer.credentials.services.map((x) => x.service))}`);
    return c;
  };
  const pg = await until('a PostgreSQL query', 3 * 60_000, async () => {
    const r = await probePort({ guestPort: 5432, hostPort: pgPort, credential: credential('postgresql'), timeoutMs: 20_000 });
    return r.ok ? r : undefined;
  });
  assert.match(pg.detail, /SELECT 6\*7 → 42/);
  const redis = await probePort({ guestPort: 6379, hostPort: redisPort, credential: credential('redis'), timeoutMs: 20_000 });
  assert.equal(redis.ok, true, redis.detail);
  assert.match(redis.detail, /PONG after AUTH/);
  const stranger = await probePort({ guestPort: 6379, hostPort: redisPort, timeoutMs: 20_000 });
  assert.match(stranger.detail, /NOAUTH/);

  // The workload.
  const deb = join(home, 'sl.deb');
  await run('sh', ['-c', `cd ${home} && apt-get download sl >/dev/null 2>&1 && mv sl_*.deb ${deb}`]);
  const w = await ssh(
    [
      'cat > /tmp/sl.deb',
      'git --version >/dev/null',
      'psql --version >/dev/null',
      'redis-cli --version >/dev/null',
      'cat /srv/data/catalogue.csv >/dev/null',
      "bash -lc 'cowsay hello --secret-flag' 2>/dev/null; true",
      'sudo dpkg -i /tmp/sl.deb >/dev/null',
      '/usr/games/sl -h >/dev/null 2>&1; true',
    ].join(' && '),
    await readFile(deb),
  );
  assert.equal(w.code, 0, w.stderr);

  // The server has the agent's events for this client and this version.
  const anon = createAnonymiser({ keyring: loadOrCreateKeyring(paths(home).secrets) });
  const subject = anon.pseudonym('client', client);
  const store = openSqliteStore({ file: paths(home).store });
  try {
    await until('the workload in the store', 6 * 60_000, async () => {
      const a = await store.guestActivity(subject);
      const spans = await store.guestImages(subject);
      // A CPU share needs two reports (the first has no delta): on a fast boot the workload is in the first.
      const cpu = a.samples.some((x) => x.cpuPercent !== null);
      return cpu && spans.some((s) => s.image === answer.image.digest) && a.accesses.some((x) => x.target === 'dpkg:sl') && a.programs.some((p) => p.name === 'cowsay') ? true : undefined;
    });
  } finally {
    await store.close();
  }
  const report = await cli(['accuracy', client, '--no-archive-index']);
  const v = report.versions.find((x: { digest: string }) => x.digest === answer.image.digest);
  assert.ok(v, JSON.stringify(report));
  assert.deepEqual(v.software.used.map((u: { package: string }) => u.package), ['git', 'nginx', 'postgresql', 'redis-server', 'sudo']);
  assert.deepEqual(v.software.unused, ['htop']);
  assert.deepEqual(v.software.missing, [
    { package: null, program: 'cowsay', how: 'command-not-found' },
    { package: 'sl', how: 'installed-after-delivery' },
  ]);
  assert.deepEqual(
    v.services.receiving.map((p: { port: number }) => p.port),
    [22, 80, 5432, 6379],
  );
  assert.deepEqual(v.datasets, [{ destination: '/srv/data/catalogue.csv', read: true }]);
  assert.ok(v.resources.cpu.observedP95 !== null && v.resources.memory.observedP95 > 0);
  assert.ok(!JSON.stringify(report).includes('secret-flag'));

  // Revoked: the next report is refused, the agent stops, and nothing more is stored.
  await cli(['consent', 'revoke', `client:${client}`]);
  await until('the agent to stop', 5 * 60_000, async () => ((await ssh('test -e /var/lib/prescient-agent/revoked')).code === 0 ? true : undefined));
  const spool = await ssh('sudo ls /var/lib/prescient-agent/spool | wc -l');
  assert.equal(spool.stdout.trim(), '0');
  await new Promise((r) => setTimeout(r, 75_000)); // past the next timer run
  await assertNoGuestData(paths(home).store, subject);
});
