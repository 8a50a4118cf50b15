import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { run } from '../../core/exec.js';
import { debianBase, occurrences, scratchDir, testHome, testPaths } from '../../../test/support/images.js';
import { listInstalledPackages } from '../facts.js';
import { policyRcDPath } from '../policy-rc-d.js';
import { withImageSession } from '../open.js';
import { createOverlay } from '../qemu-img.js';
import type { BaseImage } from './build.js';
import { buildDebianBase } from './build.js';
import { recipeFor } from './recipes.js';

let base: BaseImage;
let work: Awaited<ReturnType<typeof scratchDir>>;

before(async () => {
  base = await debianBase(); // built once per test run, then cached by recipe
  work = await scratchDir();
});

after(async () => {
  await work.remove();
});

test('the Debian 12 base has a kernel, systemd and apt, on an MBR disk with an ext4 root', () => {
  const f = base.facts;
  assert.equal(f.os.id, 'debian');
  assert.equal(f.os.versionId, '12');
  assert.equal(f.architecture, 'amd64');
  assert.equal(f.disk.table, 'dos');
  assert.equal(f.disk.partitions.find((p) => p.number === f.disk.rootPartition)?.filesystem, 'ext4');
  const names = new Set(f.packages.map((p) => p.name));
  for (const p of ['apt', 'systemd-sysv', 'linux-image-amd64', 'systemd-resolved']) assert.ok(names.has(p), `${p} installed`);
  assert.ok(f.services.includes('systemd-networkd.service'));
  for (const p of ['cloud-init', 'openssh-server']) assert.ok(names.has(p), `${p} installed (login on first boot)`);
});

test('the base holds no SSH host key and lets no password or root log in', async () => {
  await withImageSession(base.path, { readOnly: true, runtimeDir: testPaths().runtime }, async (s) => {
    const keys = (await s.list('/etc/ssh')).filter((e) => e.name.startsWith('ssh_host_'));
    assert.deepEqual(keys, [], 'host keys are per machine, never in a shared layer');
    assert.match((await s.readFile('/etc/ssh/sshd_config.d/50-prescient.conf')).toString(), /^PasswordAuthentication no$/m);
    assert.match((await s.readFile('/etc/shadow')).toString(), /^root:[!*]/m);
  });
});

/** The "last mounted on" of the root filesystem's superblock (the partition starts at 1 MiB), read through the image's backing chain. */
async function lastMountedOn(image: string): Promise<string> {
  const head = join(work.dir, 'head.raw');
  await run('qemu-img', ['dd', '-O', 'raw', `if=${image}`, `of=${head}`, 'bs=1M', 'count=3']);
  await run('dd', [`if=${head}`, `of=${head}.fs`, 'bs=1M', 'skip=1', 'status=none']);
  const header = await run('dumpe2fs', ['-h', `${head}.fs`], { allowFailure: true });
  return /^Last mounted on:\s*(.*)$/m.exec(header.stdout)?.[1]?.trim() ?? `no superblock: ${header.stderr}`;
}

test("the base names no folder of the host that built it: no debootstrap log, the superblock's last mount is /, none in any block", async () => {
  const host = testPaths().bases;
  assert.equal(await lastMountedOn(base.path), '/');
  // The whole disk, free blocks and the journal included: ext4 journals copies of its superblock.
  assert.equal(await occurrences(base.path, testHome()), 0, `${base.path} names ${testHome()}`);
  await withImageSession(base.path, { readOnly: true, runtimeDir: testPaths().runtime }, async (s) => {
    assert.equal(await s.stat('/var/log/bootstrap.log'), undefined, "debootstrap's log names the build folder on every line");
    const found = await s.exec(['grep', '-rlF', '-e', host, '-e', '.build-', '/etc', '/var', '/root', '/home', '/opt', '/srv', '/boot'], { allowFailure: true });
    assert.equal(found.stdout.trim(), '', `files naming ${host}: ${found.stdout}`);
  });
  // A layer written through the mount backend records no host mount folder either.
  const overlay = join(work.dir, 'layer.qcow2');
  await createOverlay(base.path, overlay);
  await withImageSession(overlay, { runtimeDir: testPaths().runtime }, async (s) => {
    await s.writeFile('/root/written', 'x\n');
  });
  assert.equal(await lastMountedOn(overlay), '/');
  // Its header names the base by this host's path until it is stored: a blob names its parent
  // by digest (qcow2-chain.ts storeLayer). What is left is the guest's blocks.
  await run('qemu-img', ['rebase', '-u', '-f', 'qcow2', '-b', '0'.repeat(64), '-F', 'qcow2', overlay]);
  assert.equal(await occurrences(overlay, testHome()), 0, `the layer names ${testHome()}`);
});

test('a second build with the same recipe is a cache hit', async () => {
  const p = testPaths();
  const started = performance.now();
  const again = await buildDebianBase(recipeFor('debian-12'), { basesDir: p.bases, runtimeDir: p.runtime });
  assert.equal(again.cached, true);
  assert.equal(again.path, base.path);
  assert.ok(performance.now() - started < 2000);
});

test("a command in the guest sees the guest's os-release, and dpkg -l lists the guest's packages, not the host's", async () => {
  const overlay = join(work.dir, 'exec.qcow2');
  await createOverlay(base.path, overlay);
  await withImageSession(overlay, { runtimeDir: testPaths().runtime }, async (s) => {
    const osRelease = await s.exec(['cat', '/etc/os-release']);
    assert.match(osRelease.stdout, /VERSION_CODENAME=bookworm/);
    const dpkg = await s.exec(['dpkg-query', '-W', '-f', '${Package}\\n']);
    const inGuest = new Set(dpkg.stdout.trim().split('\n'));
    const fromStatus = (await listInstalledPackages(s)).map((p) => p.name);
    assert.deepEqual([...inGuest].sort(), fromStatus);
    // qemu-utils is on the host (we are using it) but was never installed in the guest.
    const host = await run('dpkg-query', ['-W', '-f', '${Package}\\n', 'qemu-utils']);
    assert.equal(host.stdout.trim(), 'qemu-utils');
    assert.ok(!inGuest.has('qemu-utils'));
    const dpkgL = await s.exec(['dpkg', '-l', 'systemd-sysv']);
    assert.match(dpkgL.stdout, /^ii\s+systemd-sysv/m);
    // The guest's processes are alone in their PID namespace.
    const ps = await s.exec(['sh', '-c', 'ls /proc | grep -c "^[0-9]"']);
    assert.ok(Number(ps.stdout.trim()) < 5, `guest sees ${ps.stdout.trim()} processes`);
    // A command that outlives its timeout is killed.
    const t0 = performance.now();
    await assert.rejects(s.exec(['sleep', '30'], { timeoutMs: 500 }), /timed out/);
    assert.ok(performance.now() - t0 < 5000);
  });
});

test('guestfs backend (slow): exec sees the guest, writes through an overlay land in the overlay', { skip: process.env.PRESCIENT_SKIP_GUESTFS === '1' && 'PRESCIENT_SKIP_GUESTFS=1' }, async () => {
  const overlay = join(work.dir, 'guestfs.qcow2');
  await createOverlay(base.path, overlay);
  await withImageSession(overlay, { runtimeDir: testPaths().runtime, backend: 'guestfs' }, async (s) => {
    const osRelease = await s.exec(['cat', '/etc/os-release']);
    assert.match(osRelease.stdout, /VERSION_CODENAME=bookworm/);
    const failing = await s.exec(['sh', '-c', 'echo out; echo err >&2; exit 3'], { allowFailure: true });
    assert.deepEqual([failing.exitCode, failing.stdout, failing.stderr], [3, 'out\n', 'err\n']);
    assert.equal((await listInstalledPackages(s)).length, base.facts.packages.length);
    await s.writeFile('/root/from-guestfs', 'hello\n', { mode: 0o600 });
    assert.equal(await s.sha256('/root/from-guestfs'), '5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03');
  });
  await withImageSession(overlay, { runtimeDir: testPaths().runtime, readOnly: true }, async (s) => {
    assert.equal((await s.readFile('/root/from-guestfs')).toString(), 'hello\n');
    assert.equal((await s.stat('/root/from-guestfs'))?.mode, 0o600);
    assert.equal(await s.stat(policyRcDPath), undefined, 'policy-rc.d removed at close');
  });
});
