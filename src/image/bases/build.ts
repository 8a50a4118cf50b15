import { access, chmod, lstat, mkdir, readdir, readFile, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { ValidationError } from '../../core/errors.js';
import { basename, dirname, join } from 'node:path';
import { canonicalJson } from '../../core/canonical-json.js';
import { sha256Hex } from '../../core/digest.js';
import { run } from '../../core/exec.js';
import { withFileLock } from '../../core/file-lock.js';
import { recordGuestRootAsMountPoint } from '../backends/mount/clean-filesystem.js';
import { gatherFacts, type ImageFacts } from '../facts.js';
import { withImageSession } from '../open.js';
import * as qemuImg from '../qemu-img.js';
import type { DebianRecipe } from './recipes.js';

export interface BaseImage {
  name: string;
  key: string;
  path: string;
  facts: ImageFacts;
  recipe?: DebianRecipe;
  source?: string;
  cached: boolean;
}

export interface BuildReporter {
  step(label: string): void;
}

export interface BuildOptions {
  basesDir: string;
  runtimeDir: string;
  signal?: AbortSignal;
  progress?: BuildReporter;
}

export function recipeKey(recipe: DebianRecipe): string {
  return sha256Hex(canonicalJson(recipe)).slice(0, 16);
}

const partitionOffsetBytes = 1024 * 1024;

/**
 * The mirror is written into the base's /etc/apt/sources.list, which every client's image
 * shares, and into its record: a user or password in it would be a secret in a shared layer.
 * The message does not repeat the URL, for the same reason.
 */
function checkMirror(mirror: string): void {
  const field = '--mirror (or PRESCIENT_DEBIAN_MIRROR)';
  let url: URL;
  try {
    url = new URL(mirror);
  } catch {
    throw new ValidationError(field, 'not a URL; expected http://deb.debian.org/debian or another Debian mirror');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ValidationError(field, `expected an http:// or https:// mirror, not ${url.protocol}`);
  if (url.username || url.password) {
    throw new ValidationError(field, "the URL carries a user or password, which every image made from the base would hold in /etc/apt/sources.list; serve the archive without credentials (a local mirror, or apt-cacher-ng on this machine) and name that");
  }
}

/**
 * Builds a Debian base image from the archive: debootstrap into a folder, configure it as
 * files, then make the disk without mounting anything: an MBR with one partition, an ext4
 * filesystem filled from the folder by mkfs (-d) at the partition's offset, converted to qcow2.
 * The image is written under a temporary name and renamed into place, read-only, at the end.
 * It boots from its own disk (extlinux in the MBR and /boot/extlinux), on a serial console too.
 */
export async function buildDebianBase(recipe: DebianRecipe, options: BuildOptions): Promise<BaseImage> {
  checkMirror(recipe.mirror);
  const key = recipeKey(recipe);
  const path = join(options.basesDir, `${recipe.name}-${key}.qcow2`);
  const factsPath = join(options.basesDir, `${recipe.name}-${key}.json`);
  await mkdir(options.basesDir, { recursive: true });
  const cached = await readBase(factsPath);
  if (cached) return { ...cached, cached: true };
  return withFileLock(join(options.basesDir, `.lock-${key}`), async () => {
    const again = await readBase(factsPath); // another process may have built it while we waited
    if (again) return { ...again, cached: true };
    await sweepStaleBuilds(options.basesDir, key);
    const work = join(options.basesDir, `.build-${key}-${process.pid}`);
    const root = join(work, 'root');
    await mkdir(work, { recursive: true });
    const signal = options.signal;
    try {
      options.progress?.step(`debootstrap ${recipe.suite} (${recipe.variant} + ${recipe.include.length} packages)`);
      const cacheDir = join(options.basesDir, '.debootstrap-cache');
      await mkdir(cacheDir, { recursive: true });
      await run(
        'debootstrap',
        [`--variant=${recipe.variant}`, `--include=${recipe.include.join(',')}`, `--cache-dir=${cacheDir}`, recipe.suite, root, recipe.mirror],
        { signal, timeoutMs: 30 * 60_000 },
      );
      await unmountBelow(root);
      // debootstrap leaves its log as /var/log/bootstrap.log: every line names this build's folder
      // (the home's path on this host), and every image made from the base would carry it.
      await rm(join(root, 'var/log/bootstrap.log'), { force: true });
      if (recipe.install.length > 0) {
        options.progress?.step(`apt-get install ${recipe.install.join(' ')}`);
        await aptInstall(root, recipe.install, signal);
      }

      options.progress?.step('configure the system');
      await configureDebian(root, recipe);

      options.progress?.step(`make a ${recipe.diskSizeGiB} GiB disk (MBR, ext4 filled from the tree)`);
      const raw = join(work, 'disk.raw');
      const size = recipe.diskSizeGiB * 1024 ** 3;
      await run('truncate', ['-s', String(size), raw]);
      await run('sfdisk', ['--quiet', raw], { input: `label: dos\nstart=${partitionOffsetBytes / 512}, type=83, bootable\n` });
      const fsKiB = (size - partitionOffsetBytes) / 1024;
      // No 64bit feature: it is only needed past 16 TiB, and syslinux reads ext4 more reliably
      // without it. A 32 MiB journal: every block the journal cycles through while a pipeline
      // layer is built lands in that layer, so a smaller journal keeps layers small.
      await run('mkfs.ext4', ['-F', '-q', '-L', 'root', '-O', '^64bit', '-J', 'size=32', '-E', `offset=${partitionOffsetBytes}`, '-d', root, raw, `${fsKiB}k`], { signal, timeoutMs: 10 * 60_000 });
      options.progress?.step('install the boot loader (extlinux)');
      await installExtlinux(raw, work, size - partitionOffsetBytes);
      const qcow2 = join(work, 'disk.qcow2');
      await qemuImg.convert(raw, qcow2, { sourceFormat: 'raw', targetFormat: 'qcow2', ...(signal ? { signal } : {}) });
      await rm(raw);

      options.progress?.step('read the image facts');
      const facts = await withImageSession(qcow2, { readOnly: true, runtimeDir: options.runtimeDir, ...(signal ? { signal } : {}) }, gatherFacts);
      await chmod(qcow2, 0o444); // a base is a backing file: nothing may write to it again
      await rename(qcow2, path);
      const record: Omit<BaseImage, 'cached'> = { name: recipe.name, key, path, facts: { ...facts, image: path }, recipe };
      await writeFile(`${factsPath}.tmp`, JSON.stringify(record, null, 2));
      await rename(`${factsPath}.tmp`, factsPath);
      return { ...record, cached: false };
    } finally {
      await unmountBelow(work).catch(() => undefined);
      await rm(work, { recursive: true, force: true });
    }
  }, options.signal ? { signal: options.signal } : {});
}

export async function readBase(factsPath: string): Promise<Omit<BaseImage, 'cached'> | undefined> {
  try {
    const record = JSON.parse(await readFile(factsPath, 'utf8')) as Omit<BaseImage, 'cached'>;
    // The image sits beside its record: a bases folder copied or moved elsewhere keeps working,
    // and a record cannot point a build at a file outside its folder.
    const path = join(dirname(factsPath), basename(record.path));
    await access(path);
    return { ...record, path, facts: { ...record.facts, image: path } };
  } catch {
    return undefined;
  }
}

/**
 * extlinux goes into /boot/extlinux of the mounted root filesystem, and syslinux's MBR code
 * into the first 440 bytes of the disk; the partition is marked bootable by sfdisk already.
 * The kernel and initrd are taken through Debian's /vmlinuz and /initrd.img links, which kernel
 * upgrades in the guest keep current.
 */
async function installExtlinux(raw: string, work: string, fsBytes: number): Promise<void> {
  const mnt = join(work, 'mnt');
  await mkdir(mnt, { recursive: true });
  const loop = (await run('losetup', ['--find', '--show', '--offset', String(partitionOffsetBytes), '--sizelimit', String(fsBytes), raw])).stdout.trim();
  try {
    await run('mount', [loop, mnt]);
    try {
      await recordGuestRootAsMountPoint(mnt, 'ext4');
      await run('extlinux', ['--install', join(mnt, 'boot/extlinux')]);
    } finally {
      await run('umount', [mnt]);
    }
  } finally {
    await run('losetup', ['-d', loop], { allowFailure: true });
  }
  await run('dd', ['if=/usr/lib/syslinux/mbr/mbr.bin', `of=${raw}`, 'bs=440', 'count=1', 'conv=notrunc', 'status=none']);
}

export const kernelCommandLine = 'root=LABEL=root ro console=ttyS0,115200 console=tty0 net.ifnames=0';

/**
 * The folders of builds of this recipe that were killed (the caller holds the recipe's lock, so
 * none is running): each may still have debootstrap's /proc or /sys mounted in it. Unmounted
 * first, then removed: a recursive remove must never walk into a mount.
 */
export async function sweepStaleBuilds(basesDir: string, key: string): Promise<string[]> {
  const stale = (await readdir(basesDir).catch(() => [] as string[])).filter((n) => n.startsWith(`.build-${key}-`)).map((n) => join(basesDir, n));
  for (const dir of stale) {
    await unmountBelow(dir);
    await rm(dir, { recursive: true, force: true });
  }
  return stale;
}

/** debootstrap mounts /proc and /sys in the target and may leave them behind on failure. */
async function unmountBelow(dir: string): Promise<void> {
  const mounts = (await readFile('/proc/self/mounts', 'utf8'))
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) await run('umount', ['-l', m], { allowFailure: true });
}

async function configureDebian(root: string, recipe: DebianRecipe): Promise<void> {
  const put = (p: string, text: string): Promise<void> => writeFile(join(root, p), text);
  await put('etc/hostname', `${recipe.hostname}\n`);
  await put('etc/hosts', `127.0.0.1\tlocalhost\n127.0.1.1\t${recipe.hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n`);
  await put('etc/fstab', 'LABEL=root\t/\text4\terrors=remount-ro\t0\t1\n');
  await put(
    'etc/apt/sources.list',
    `deb ${recipe.mirror} ${recipe.suite} main\ndeb ${recipe.mirror} ${recipe.suite}-updates main\ndeb ${recipe.securityMirror} ${recipe.suite}-security main\n`,
  );
  if (recipe.acceptExpiredRelease) {
    await put('etc/apt/apt.conf.d/99prescient-archive', '// The archive this image was built from serves expired Release files.\nAcquire::Check-Valid-Until "false";\nAcquire::Check-Date "false";\n');
  }
  await put('etc/apt/apt.conf.d/99prescient-no-recommends', 'APT::Install-Recommends "false";\n');
  await mkdir(join(root, 'etc/systemd/network'), { recursive: true });
  await put('etc/systemd/network/80-dhcp.network', '[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\n');
  for (const [wants, unit] of [
    ['multi-user.target.wants', 'systemd-networkd.service'],
    ['sockets.target.wants', 'systemd-networkd.socket'],
    ['multi-user.target.wants', 'systemd-resolved.service'],
  ] as const) {
    await mkdir(join(root, 'etc/systemd/system', wants), { recursive: true });
    await unlink(join(root, 'etc/systemd/system', wants, unit)).catch(() => undefined);
    await symlink(`/lib/systemd/system/${unit}`, join(root, 'etc/systemd/system', wants, unit));
  }
  // A fresh machine-id on first boot; the build host's resolver is not the guest's.
  await mkdir(join(root, 'boot/extlinux'), { recursive: true });
  await put('boot/extlinux/extlinux.conf', `DEFAULT debian\nPROMPT 0\nTIMEOUT 0\n\nLABEL debian\n  LINUX /vmlinuz\n  INITRD /initrd.img\n  APPEND ${kernelCommandLine}\n`);
  await put('etc/machine-id', '');
  await configureLogin(root);
  await rm(join(root, 'etc/.resolv.conf.systemd-resolved.bak'), { force: true });
  await rm(join(root, 'var/lib/dbus/machine-id'), { force: true });
  await rm(join(root, 'var/cache/apt/archives'), { recursive: true, force: true });
  await mkdir(join(root, 'var/cache/apt/archives/partial'), { recursive: true });
  await rm(join(root, 'var/lib/apt/lists'), { recursive: true, force: true });
  await mkdir(join(root, 'var/lib/apt/lists/partial'), { recursive: true });
}

/**
 * SSH and cloud-init: host keys are secrets, so the base holds none (cloud-init makes them on
 * the first boot of each instance; a boot without a seed makes them before sshd starts);
 * passwords never log in and root is locked; cloud-init looks only for a NoCloud seed, so a
 * boot never waits on metadata services that are not there.
 */
async function configureLogin(root: string): Promise<void> {
  const sshDir = join(root, 'etc/ssh');
  for (const name of await readdir(sshDir)) if (name.startsWith('ssh_host_')) await rm(join(sshDir, name), { force: true });
  await mkdir(join(sshDir, 'sshd_config.d'), { recursive: true });
  await writeFile(join(sshDir, 'sshd_config.d/50-prescient.conf'), 'PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin no\n');
  await mkdir(join(root, 'etc/systemd/system/ssh.service.d'), { recursive: true });
  await writeFile(join(root, 'etc/systemd/system/ssh.service.d/50-prescient-host-keys.conf'), '[Service]\nExecStartPre=/usr/bin/ssh-keygen -A\n');
  await mkdir(join(root, 'etc/cloud/cloud.cfg.d'), { recursive: true });
  await writeFile(join(root, 'etc/cloud/cloud.cfg.d/90-prescient.cfg'), 'datasource_list: [ NoCloud, None ]\nssh_pwauth: false\ndisable_root: true\n');
  await run('passwd', ['--root', root, '--lock', 'root'], { allowFailure: true });
}

/**
 * apt in the freshly bootstrapped tree (our recipe, from the Debian archive: trusted), in private
 * mount and PID namespaces so /proc is gone with the process; no daemon is started, the host's
 * resolver is lent for the download and the tree's own resolv.conf is put back after.
 */
async function aptInstall(root: string, packages: readonly string[], signal: AbortSignal | undefined): Promise<void> {
  const resolv = join(root, 'etc/resolv.conf');
  const saved = join(root, 'etc/resolv.conf.prescient-build');
  const had = await lstat(resolv).then(() => true, () => false);
  if (had) await rename(resolv, saved);
  await writeFile(resolv, await readFile('/etc/resolv.conf'));
  const policy = join(root, 'usr/sbin/policy-rc.d');
  await writeFile(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  try {
    const script = 'mount -t proc proc /proc && apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@"; s=$?; apt-get clean; exit $s';
    await run('unshare', ['--mount', '--pid', '--fork', 'chroot', root, 'sh', '-c', script, 'sh', ...packages], {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C' },
      timeoutMs: 30 * 60_000,
      ...(signal ? { signal } : {}),
    });
  } finally {
    await rm(policy, { force: true });
    await rm(resolv, { force: true });
    if (had) await rename(saved, resolv);
  }
}
