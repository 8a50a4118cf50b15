import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { run } from '../core/exec.js';
import { debianBase, scratchDir, testPaths } from '../../test/support/images.js';
import { oneServiceVector } from '../../test/support/service-vectors.js';
import { personalize, type PersonalizeReport } from '../pipeline/personalize.js';
import { assemblePipeline, type PipelinePlan } from '../pipeline/plan.js';
import type { MachineCredentials } from '../pipeline/spec/machine-seed.js';
import { parseUsageVector } from '../usage-vector/validate.js';
import { expectationsFromPlan } from './expectations.js';
import { sshAttempt, sshRun } from './port-probes.js';
import { verifyImage, type Check, type VerifyReport } from './verify.js';

/**
 * Issue 14's machine acceptance, one boot under emulation shared by every assertion: a hand-
 * written redis + git vector (2 vCPUs, 4 GiB, inbound 22 and 6379) is personalised with the
 * client's SSH key, booted with its seed, logs its user in with that key and answers Redis
 * PING on 6379 from the host, with the machine's own password and only with it.
 */
const p = testPaths();
let work: Awaited<ReturnType<typeof scratchDir>>;
let built: PersonalizeReport;
let report: VerifyReport;
let key: string;
let credentials: MachineCredentials;

function redisGitVector() {
  const v = oneServiceVector({ service: 'redis-server', pkg: 'redis-server', inbound: [22, 6379], clientId: 'redis-git-1', vcpus: 2, memoryMiB: 4096 });
  return parseUsageVector({ ...v, software: [{ name: 'redis-server', probability: 0.9 }, { name: 'git', probability: 0.9 }] });
}

const fail = (name: string, e: unknown): Check => ({ name, ok: false, detail: (e as Error).message });

before(async () => {
  const base = await debianBase();
  work = await scratchDir();
  key = join(work.dir, 'id_ed25519');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'alice@laptop', '-f', key]);
  const pub = (await readFile(`${key}.pub`, 'utf8')).trim();
  built = await personalize({
    base,
    vector: redisGitVector(),
    pipeline: assemblePipeline(),
    outDir: join(work.dir, 'out'),
    layersDir: p.layers,
    runtimeDir: p.runtime,
    packageCacheDir: p.packageCache,
    flatten: true,
    login: { user: 'alice', sshAuthorizedKeys: [pub.split(' ').slice(0, 2).join(' ')] },
  });
  credentials = JSON.parse(await readFile(built.outputs.credentials, 'utf8')) as MachineCredentials;
  const plan = JSON.parse(await readFile(built.outputs.plan, 'utf8')) as PipelinePlan;
  const login = { user: 'alice', identityFile: key };
  report = await verifyImage({
    image: built.outputs.disk!,
    expectations: expectationsFromPlan(plan),
    runtimeDir: p.runtime,
    seedIso: built.outputs.seedIso!,
    credentials,
    login,
    timeoutMs: 40 * 60_000,
    // The same boot: what a stranger gets, and what the user can do once in.
    onBooted: async ({ forwards }) => {
      const ssh = forwards.find((f) => f.guestPort === 22)!.hostPort;
      const redis = forwards.find((f) => f.guestPort === 6379)!.hostPort;
      const checks: Check[] = [];
      try {
        const inside = await sshRun(ssh, login, ['sh', '-c', 'hostname; sudo -n true && echo sudo-ok; git --version; systemctl is-active redis-server; sudo -n stat -c %U:%a /etc/redis/prescient.d/auth.conf'], 60_000);
        checks.push({ name: 'inside', ok: inside.exitCode === 0, detail: `${inside.stdout}${inside.stderr}` });
      } catch (e) {
        checks.push(fail('inside', e));
      }
      // Refusals must be sshd's own answer (Permission denied), not a reset while it restarts.
      const root = await sshAttempt(['-i', key, '-p', String(ssh), '-o', 'BatchMode=yes', 'root@127.0.0.1', 'true'], 60_000);
      checks.push({ name: 'root login refused', ok: root.exitCode !== 0 && /Permission denied \(publickey\)/.test(root.stderr), detail: root.stderr.trim() });
      const pw = await sshAttempt(['-p', String(ssh), '-o', 'BatchMode=yes', '-o', 'PubkeyAuthentication=no', '-o', 'PreferredAuthentications=password,keyboard-interactive', 'alice@127.0.0.1', 'true'], 60_000);
      checks.push({ name: 'password login refused', ok: pw.exitCode !== 0 && /Permission denied \(publickey\)/.test(pw.stderr), detail: pw.stderr.trim() });
      const { probePort } = await import('./port-probes.js');
      const stranger = await probePort({ guestPort: 6379, hostPort: redis, timeoutMs: 10_000 });
      checks.push({ name: 'redis without the password', ok: !stranger.ok && /NOAUTH/.test(stranger.detail), detail: stranger.detail });
      return checks;
    },
  });
});

after(async () => {
  await work.remove();
});

const check = (name: string): Check => {
  const c = report.checks.find((x) => x.name === name);
  assert.ok(c, `${name} was checked: ${JSON.stringify(report.checks.map((x) => x.name))}`);
  return c;
};

test('the redis + git machine boots, and every check passes', () => {
  assert.deepEqual(report.checks.filter((c) => !c.ok), [], JSON.stringify(report.checks, null, 1));
});

test('its user logs in over SSH with the registered key, gets the client\'s hostname and sudo', () => {
  assert.equal(check('ssh :22').ok, true, check('ssh :22').detail);
  assert.match(check('ssh :22').detail, /logged in as alice@redis-git-1/);
  const inside = check('inside').detail;
  assert.match(inside, /^redis-git-1$/m);
  assert.match(inside, /^sudo-ok$/m);
  assert.match(inside, /^git version /m);
  assert.match(inside, /^active$/m);
  assert.match(inside, /^redis:640$/m);
});

test('Redis answers PING on 6379 from the host with the machine\'s password, and refuses without it', () => {
  assert.equal(check('redis :6379').ok, true, check('redis :6379').detail);
  assert.match(check('redis :6379').detail, /PONG after AUTH/);
  assert.equal(check('redis without the password').ok, true, check('redis without the password').detail);
});

test('root and passwords cannot log in; the firewall opens exactly 22 and 6379', () => {
  assert.equal(check('root login refused').ok, true);
  assert.equal(check('password login refused').ok, true, check('password login refused').detail);
  assert.equal(check('firewall').ok, true, check('firewall').detail);
  assert.match(check('firewall').detail, /inbound TCP open: 22, 6379$/);
});
