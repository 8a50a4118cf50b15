import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { run } from '../core/exec.js';
import { debianBase, scratchDir, testPaths } from '../../test/support/images.js';
import { webDbVector } from '../../test/support/vectors.js';
import { cliPath } from '../../test/support/repo.js';
import { withImageSession } from '../image/open.js';
import { createOverlay } from '../image/qemu-img.js';
import { cleanupStaleSessions, sessionsDir } from '../image/runtime-state.js';
import { personalize, type PersonalizeReport } from '../pipeline/personalize.js';
import { assemblePipeline } from '../pipeline/plan.js';
import { expectationsFromPlan } from './expectations.js';
import type { PipelinePlan } from '../pipeline/plan.js';
import { verifyImage } from './verify.js';

/**
 * Boots real images under QEMU (software emulation here: a few minutes each). The image is the
 * pipeline acceptance scenario's: nginx, PostgreSQL, ports 80/443, 4 vCPUs, 8 GiB.
 */
const p = testPaths();
let work: Awaited<ReturnType<typeof scratchDir>>;
let built: PersonalizeReport;
let plan: PipelinePlan;

before(async () => {
  const base = await debianBase();
  work = await scratchDir();
  const vector = webDbVector();
  built = await personalize({ base, vector, pipeline: assemblePipeline(), outDir: join(work.dir, 'out'), layersDir: p.layers, runtimeDir: p.runtime, packageCacheDir: p.packageCache });
  plan = JSON.parse(await readFile(built.outputs.plan, 'utf8')) as PipelinePlan;
});

after(async () => {
  await work.remove();
});

/** Session records this test process owns (other processes may share the runtime folder). */
async function ownSessions(): Promise<string[]> {
  const dir = sessionsDir(p.runtime);
  const out: string[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const state = await readFile(join(dir, name, 'state.json'), 'utf8').catch(() => '{}');
    if ((JSON.parse(state) as { ownerPid?: number }).ownerPid === process.pid) out.push(name);
  }
  return out;
}

async function qemuPids(): Promise<string[]> {
  return (await run('pgrep', ['-f', `qemu-system-x86_64.*${p.runtime}`], { allowFailure: true })).stdout.split('\n').filter(Boolean);
}

async function noLeftovers(qemuBefore: readonly string[]): Promise<void> {
  assert.deepEqual(await ownSessions(), [], 'no session record, overlay or serial log left');
  assert.deepEqual((await qemuPids()).filter((pid) => !qemuBefore.includes(pid)), [], 'no QEMU left');
}

test('the personalised image boots, its services answer, nginx answers HTTP from the host', async () => {
  const qemuBefore = await qemuPids();
  const report = await verifyImage({ image: built.outputs.disk!, expectations: expectationsFromPlan(plan), runtimeDir: p.runtime });
  const failed = report.checks.filter((c) => !c.ok);
  assert.deepEqual(failed, [], JSON.stringify(report.checks, null, 1));
  const names = report.checks.map((c) => c.name);
  for (const n of ['boot', 'vCPUs', 'memory', 'disk', 'package nginx', 'package postgresql', 'service nginx.service', 'service postgresql.service', 'firewall', 'http :80']) assert.ok(names.includes(n), n);
  assert.ok(report.readyMs! > 0);
  await noLeftovers(qemuBefore);
});

test('a broken service configuration fails verify, naming the check and the reason', async () => {
  const broken = join(work.dir, 'broken.qcow2');
  await createOverlay(built.outputs.disk!, broken);
  await withImageSession(broken, { runtimeDir: p.runtime }, async (s) => {
    const conf = (await s.readFile('/etc/nginx/nginx.conf')).toString();
    await s.writeFile('/etc/nginx/nginx.conf', conf.replace(/worker_processes \d+;/, 'worker_processes many;'));
  });
  // A smaller machine is enough to show the failure, and boots faster under emulation.
  const e = { ...expectationsFromPlan(plan), vcpus: 2, memoryMiB: 2048 };
  const qemuBefore = await qemuPids();
  const report = await verifyImage({ image: broken, expectations: e, runtimeDir: p.runtime });
  assert.equal(report.ok, false);
  const nginx = report.checks.find((c) => c.name === 'service nginx.service');
  assert.equal(nginx?.ok, false);
  assert.match(nginx!.detail, /failed|inactive/);
  assert.equal(report.checks.find((c) => c.name === 'http :80')?.ok, false);
  assert.equal(report.checks.find((c) => c.name === 'service postgresql.service')?.ok, true);
  await noLeftovers(qemuBefore);
});

test('a verify run killed mid-boot leaves nothing after the next start', async () => {
  const qemuBefore = await qemuPids();
  const child = spawn(process.execPath, [cliPath, 'verify', built.outputs.disk!, '--quiet'], { env: { ...process.env, PRESCIENT_HOME: p.home }, stdio: 'ignore' });
  // Wait until QEMU runs under it.
  for (let i = 0; i < 240; i++) {
    if ((await qemuPids()).some((pid) => !qemuBefore.includes(pid))) break;
    await new Promise((res) => setTimeout(res, 500));
  }
  child.kill('SIGKILL');
  await new Promise((res) => child.once('close', res));
  const dir = sessionsDir(p.runtime);
  const orphaned = [];
  for (const name of await readdir(dir)) if (name.startsWith(`${child.pid}-`)) orphaned.push(name);
  assert.notEqual(orphaned.length, 0, 'the killed run left its session behind');
  await cleanupStaleSessions(p.runtime);
  for (const name of orphaned) await assert.rejects(readdir(join(dir, name)), 'its session folder is gone');
  await noLeftovers(qemuBefore);
});
