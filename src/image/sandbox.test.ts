import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { debianBase, scratchDir, testPaths } from '../../test/support/images.js';
import type { BaseImage } from './bases/build.js';
import type { MountSession } from './backends/mount/mount-session.js';
import { isMountBackendUsable, withImageSession } from './open.js';
import { createOverlay } from './qemu-img.js';

/**
 * Guest code (package scripts, `image exec`) runs in a sandbox: guest root is an unprivileged
 * host uid, the guest root is entered with pivot_root, the escapes are refused by seccomp and
 * dropped capabilities, and the network is loopback only unless asked for. Each test does what
 * an attacker in the guest would do and checks the host.
 */
let base: BaseImage;
let work: Awaited<ReturnType<typeof scratchDir>>;
let hostSecrets: string;
const skip = !(await isMountBackendUsable()) && 'the sandbox is the mount backend (root, FUSE, loop devices)';

before(async () => {
  if (skip) return;
  base = await debianBase();
  work = await scratchDir();
  hostSecrets = join(work.dir, 'secrets');
  await mkdir(hostSecrets);
  await writeFile(join(hostSecrets, 'admin.secret'), 'the admin secret\n', { mode: 0o600 });
});

after(async () => {
  await work?.remove();
});

async function overlayOf(name: string): Promise<string> {
  const overlay = join(work.dir, `${name}.qcow2`);
  await createOverlay(base.path, overlay);
  return overlay;
}

test('the Perl chroot escape from image exec writes nothing on the host and sees no host secret', { skip }, async () => {
  const marker = join(work.dir, 'escaped');
  // The classic escape: chroot into a subfolder, climb out of it with "..", chroot there.
  const escape = `mkdir "x"; chroot "x"; chdir ".." for 1..64; chroot "."; system("touch ${marker}; ls ${hostSecrets}; cat ${hostSecrets}/admin.secret");`;
  await withImageSession(await overlayOf('escape'), { runtimeDir: testPaths().runtime }, async (s) => {
    const r = await s.exec(['perl', '-e', escape], { allowFailure: true });
    assert.doesNotMatch(r.stdout + r.stderr, /^admin\.secret$|the admin secret/m, 'the escape listed or read the host secrets');
    // chroot itself is refused (seccomp and no CAP_SYS_CHROOT); had it worked, ".." stops at the guest root.
    const chroot = await s.exec(['perl', '-e', 'chroot("/tmp") or print "refused: $!\\n"']);
    assert.match(chroot.stdout, /refused: Operation not permitted/);
  });
  await assert.rejects(stat(marker), { code: 'ENOENT' }, 'the escape wrote a file on the host');
});

test('guest root is an unprivileged host uid; what it creates as root:root is 0:0 on disk, other owners too', { skip }, async () => {
  await withImageSession(await overlayOf('owners'), { runtimeDir: testPaths().runtime }, async (s) => {
    const r = await s.exec(['sh', '-c', 'id -u; cat /proc/self/uid_map; mkdir -p /var/lib/sbx; touch /var/lib/sbx/root-file /var/lib/sbx/apt-file; chown 42:65534 /var/lib/sbx/apt-file']);
    const [uid, map] = r.stdout.trim().split('\n');
    assert.equal(uid, '0', 'root inside the guest');
    const [inside, outside, count] = map!.trim().split(/\s+/).map(Number);
    assert.equal(inside, 0);
    assert.ok(outside! >= 65536, `guest root is host uid ${outside}, not a host user`);
    assert.equal(count, 65536);
    // The mount backend reads the disk directly: these are the owners stored in the image.
    assert.deepEqual([(await s.stat('/var/lib/sbx/root-file'))?.uid, (await s.stat('/var/lib/sbx/root-file'))?.gid], [0, 0]);
    assert.deepEqual([(await s.stat('/var/lib/sbx/apt-file'))?.uid, (await s.stat('/var/lib/sbx/apt-file'))?.gid], [42, 65534]);
    assert.deepEqual([(await s.stat('/var/lib/sbx'))?.uid, (await s.stat('/var/lib/sbx'))?.gid], [0, 0]);
  });
});

test('the escapes are refused: mount, ptrace, keyctl, bpf, kexec, modules, unshare; no CAP_SYS_ADMIN', { skip }, async () => {
  await withImageSession(await overlayOf('seccomp'), { runtimeDir: testPaths().runtime }, async (s) => {
    // x86_64 syscall numbers: mount 165, ptrace 101, keyctl 250, bpf 321, kexec_load 246, init_module 175, unshare 272, pivot_root 155.
    const calls = { mount: 165, ptrace: 101, keyctl: 250, bpf: 321, kexec_load: 246, init_module: 175, unshare: 272, pivot_root: 155 };
    const script = Object.entries(calls)
      .map(([name, nr]) => `print "${name} ", (syscall(${nr}, 0, 0, 0, 0, 0) == -1 ? ($!+0) : "allowed"), "\\n";`)
      .join(' ');
    const r = await s.exec(['perl', '-e', script]);
    for (const name of Object.keys(calls)) assert.match(r.stdout, new RegExp(`^${name} 1$`, 'm'), `${name} refused with EPERM:\n${r.stdout}`);
    const status = (await s.exec(['cat', '/proc/self/status'])).stdout;
    assert.match(status, /^Seccomp:\s+2$/m);
    const capEff = BigInt(`0x${/^CapEff:\s+([0-9a-f]+)$/m.exec(status)![1]}`);
    for (const [cap, bit] of [['CAP_SYS_ADMIN', 21n], ['CAP_SYS_PTRACE', 19n], ['CAP_SYS_MODULE', 16n], ['CAP_SYS_CHROOT', 18n], ['CAP_SYS_BOOT', 22n]] as const) {
      assert.equal((capEff >> bit) & 1n, 0n, `${cap} dropped`);
    }
    for (const [cap, bit] of [['CAP_CHOWN', 0n], ['CAP_DAC_OVERRIDE', 1n], ['CAP_FOWNER', 3n], ['CAP_SETUID', 7n], ['CAP_SETGID', 6n]] as const) {
      assert.equal((capEff >> bit) & 1n, 1n, `${cap} kept for package scripts`);
    }
  });
});

test('a command sees only loopback unless it asks for the network; the host resolver is never written into the image', { skip }, async () => {
  const hostInterfaces = (await readdir('/sys/class/net')).sort();
  await withImageSession(await overlayOf('network'), { runtimeDir: testPaths().runtime }, async (s) => {
    const before = await s.lstat('/etc/resolv.conf');
    const isolated = await s.exec(['ls', '/sys/class/net']);
    assert.deepEqual(isolated.stdout.trim().split('\n'), ['lo']);
    const shared = await s.exec(['sh', '-c', 'ls /sys/class/net; cat /etc/resolv.conf'], { network: true });
    for (const i of hostInterfaces) assert.match(shared.stdout, new RegExp(`^${i}$`, 'm'));
    assert.ok(shared.stdout.includes((await readFile('/etc/resolv.conf', 'utf8')).trim()), 'the host resolver is visible');
    assert.deepEqual(await s.lstat('/etc/resolv.conf'), before, 'resolv.conf in the image unchanged');
  });
});

test('a read-only bind cannot be written; a writable bind writes into the session, never into the host folder', { skip }, async () => {
  const shared = join(work.dir, 'shared-cache');
  await mkdir(shared);
  await writeFile(join(shared, 'kept.deb'), 'genuine\n');
  await withImageSession(await overlayOf('binds'), { runtimeDir: testPaths().runtime }, async (s) => {
    const ro = await s.exec(['sh', '-c', 'echo evil > /mnt/kept.deb'], { binds: [{ host: shared, guest: '/mnt' }], allowFailure: true });
    assert.notEqual(ro.exitCode, 0);
    const rw = { host: shared, guest: '/var/cache/apt/archives', writable: true };
    await s.exec(['sh', '-c', 'cd /var/cache/apt/archives && cat kept.deb && rm kept.deb && echo evil > kept.deb && echo new > planted.deb'], { binds: [rw] });
    const again = await s.exec(['cat', '/var/cache/apt/archives/kept.deb', '/var/cache/apt/archives/planted.deb'], { binds: [rw] });
    assert.equal(again.stdout, 'evil\nnew\n', 'the guest sees its own writes for the whole session');
    const writes = s.bindWrites('/var/cache/apt/archives')!;
    assert.deepEqual((await readdir(writes)).sort(), ['kept.deb', 'planted.deb']);
    assert.equal(await s.stat('/var/cache/apt/archives/planted.deb'), undefined, 'nothing landed in the image');
  });
  assert.deepEqual(await readdir(shared), ['kept.deb']);
  assert.equal(await readFile(join(shared, 'kept.deb'), 'utf8'), 'genuine\n');
});

test("a command's mount namespace keeps no other session's mounts alive (their teardown stays clean)", { skip }, async () => {
  await withImageSession(await overlayOf('ns-a'), { runtimeDir: testPaths().runtime }, async (a) => {
    await withImageSession(await overlayOf('ns-b'), { runtimeDir: testPaths().runtime, readOnly: true }, async (b) => {
      const [rootA, rootB] = [(a as MountSession).hostRoot, (b as MountSession).hostRoot];
      const running = a.exec(['sleep', '5']);
      let mountinfo = '';
      // Read until nspawn's namespace is set up (its own root mounted in it): read too early, in
      // the instant between exec and its mounts, it is not there yet.
      const settled = (): boolean => mountinfo.split('\n').some((l) => l.split(' ')[4] === rootA);
      for (let i = 0; i < 100 && !settled(); i++) {
        await new Promise((r) => setTimeout(r, 50));
        for (const pid of await readdir('/proc')) {
          if (!/^\d+$/.test(pid)) continue;
          const [comm, cmdline] = await Promise.all([readFile(`/proc/${pid}/comm`, 'utf8').catch(() => ''), readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')]);
          if (comm.trim() === 'systemd-nspawn' && cmdline.includes(`--directory=${rootA}\0`)) mountinfo = (await readFile(`/proc/${pid}/mountinfo`, 'utf8').catch(() => '')) || mountinfo;
        }
      }
      await running;
      assert.ok(mountinfo, 'found the running command');
      const points = mountinfo.split('\n').map((l) => l.split(' ')[4]);
      assert.ok(points.includes(rootA), 'its own root is there');
      assert.ok(!points.includes(rootB), "another session's root is not held");
      assert.ok(!points.includes(join(rootB, '..', 'disk.raw')), "nor its FUSE export");
    });
  });
});
