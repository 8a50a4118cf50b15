import { randomInt } from 'node:crypto';
import { chown, lstat, mkdir, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { run } from '../../../core/exec.js';
import { ExternalToolError, UnsafePathError } from '../../../core/errors.js';
import type { ExecOptions, ExecResult } from '../../session.js';
import type { GuestFiles } from './guest-files.js';

/**
 * Runs a command inside the guest root in a real sandbox: systemd-nspawn (Debian's
 * systemd-container), which gives
 *   - a user namespace in which guest root is an unprivileged host uid range (`uidBase` …
 *     `uidBase + 65535`), with the guest root mounted idmapped (`--private-users-ownership=map`),
 *     so a file dpkg makes as root:root is 0:0 on disk, exactly as before;
 *   - its own mount, PID, IPC and UTS namespaces, entered with pivot_root (not chroot), with
 *     /proc, a read-only /sys, a minimal /dev and a /run tmpfs of its own;
 *   - only loopback networking unless `network` is asked for (apt downloads);
 *   - capabilities dropped to what package scripts need (owners, modes, setuid to users) and a
 *     seccomp filter against the escapes: mount and chroot, ptrace, kexec, modules, keyrings,
 *     bpf, swap, raw I/O, clock, userfaultfd.
 * bubblewrap was the other candidate: it maps one uid only (dpkg chowns to many) and would need
 * an idmapped mount made by hand, which util-linux 2.38 on Debian 12 cannot do.
 * Nothing is mounted in the host's namespace: overlays for `binds` are mounted in a private
 * mount namespace (unshare) that dies with the command, and every process of the command is in
 * a PID namespace that dies with it.
 */
export const guestPath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** What a guest command's environment starts from (root's, non-interactive), `extra` over it. */
export function guestEnv(extra: Record<string, string> | undefined): Record<string, string> {
  return { PATH: guestPath, HOME: '/root', LANG: 'C.UTF-8', TERM: 'dumb', DEBIAN_FRONTEND: 'noninteractive', ...extra };
}

/** The size of the guest's uid/gid range: 0…65535 inside, as on a normal machine. */
export const uidRange = 0x10000;

/**
 * A host uid range no host user owns, picked at random per session (like nspawn's own `pick`,
 * but known before the first command, so overlay upper folders can be given to guest root).
 */
export function pickUidBase(): number {
  return (0x4000 + randomInt(0x6fff - 0x4000)) * uidRange;
}

/** Capabilities package scripts do not need; nspawn's own default set minus these remains. */
const droppedCapabilities = [
  'CAP_SYS_ADMIN',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_BOOT',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_MKNOD',
  // CAP_NET_ADMIN stays: it acts only on the sandbox's own network namespace (loopback), never
  // the host's (owned by the host's user namespace), and `nft -c` needs it to check a ruleset.
  'CAP_NET_RAW',
  'CAP_NET_BROADCAST',
  'CAP_IPC_OWNER',
  'CAP_IPC_LOCK',
  'CAP_LEASE',
  'CAP_LINUX_IMMUTABLE',
  'CAP_AUDIT_CONTROL',
  'CAP_BPF',
  'CAP_PERFMON',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_MAC_ADMIN',
  'CAP_MAC_OVERRIDE',
] as const;

/** systemd's syscall groups (systemd-analyze syscall-filter) plus single calls, all refused. */
const refusedSyscalls = [
  '@mount', // mount, umount2, pivot_root, chroot, fsopen, move_mount, open_tree, mount_setattr…
  '@module',
  '@reboot', // reboot, kexec_load, kexec_file_load
  '@swap',
  '@raw-io',
  '@clock',
  '@cpu-emulation',
  '@debug', // ptrace, process_vm_readv/writev, perf_event_open
  '@keyring', // add_key, keyctl, request_key
  '@obsolete',
  'bpf',
  'userfaultfd',
  'setns',
  'unshare',
  'open_by_handle_at',
  'name_to_handle_at',
] as const;

export interface Sandbox {
  uidBase: number;
  /** nspawn's machine name: unique per session (it names nspawn's lock and propagation folders). */
  machine: string;
  /** Where overlay upper folders for writable binds live (the session's own folder). */
  scratchDir: string;
}

/** A guest folder a command runs with (a mount point, a bind's target), made if missing: never a non-folder. */
export async function ensureGuestDir(files: GuestFiles, guest: string): Promise<string> {
  const host = await files.resolve(guest);
  const st = await lstat(host).catch(() => undefined);
  if (!st) await mkdir(host, { mode: 0o755 });
  else if (!st.isDirectory()) throw new UnsafePathError(guest, 'must be a folder in the guest to run commands in it');
  return host;
}

/** overlayfs takes its folders in a comma- and colon-separated option string. */
function overlaySafe(path: string): string {
  if (/[,:\\\n\t]/.test(path)) throw new UnsafePathError(path, 'an overlay folder may not contain , : \\ or control characters');
  return path;
}

/** Where the guest's writes to a bind land: `<scratch>/binds/<guest path>/upper`. */
export function bindUpperDir(sandbox: Sandbox, guest: string): string {
  return join(sandbox.scratchDir, 'binds', guest.replace(/[^A-Za-z0-9._-]/g, '_'), 'upper');
}

/**
 * Runs in the command's private mount namespace, before nspawn. That namespace starts as a copy
 * of the host's, holding every other session's mounts (image roots, FUSE exports) of every home
 * on this machine: while it lives, a session that tears down meanwhile would have its
 * filesystem kept alive here and written to after its export is gone (a dirty journal, I/O
 * errors). So those copies are detached first; then the overlays are mounted.
 */
const setupScript = `
set -eu
own=$1 n=$2; shift 2
awk '{ print $5 }' /proc/self/mountinfo | grep -E '/sessions/[0-9]+-[0-9a-f]+/(root|disk\\.raw)$' | while IFS= read -r m; do
  case "$m" in "$own"/*) ;; *) umount -l "$(printf '%b' "$m")" 2>/dev/null || true ;; esac
done
while [ "$n" -gt 0 ]; do
  mount -t overlay overlay -o "lowerdir=$1,upperdir=$2,workdir=$3" "$4"
  shift 4; n=$((n - 1))
done
exec "$@"
`;

/** nspawn complains on stderr when /run is not a tmpfs (as in a container); it is harmless. */
const nspawnNoise = /^Attempted to remove disk file system under "\/run\/systemd\/nspawn\/propagate\/[^"]*", and we can't allow that\.\n?/gm;

export async function sandboxExec(files: GuestFiles, sandbox: Sandbox, argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  if (argv.length === 0) throw new UnsafePathError('', 'an empty command');
  const env = guestEnv(options.env);
  const setenv: string[] = [];
  for (const [k, v] of Object.entries(env)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) || /[\0\n]/.test(v)) throw new UnsafePathError(k, 'an environment variable name must be a shell identifier, its value one line');
    setenv.push(`--setenv=${k}=${v}`);
  }
  for (const d of ['/proc', '/sys', '/dev', '/run']) await ensureGuestDir(files, d);

  const mounts: string[] = [];
  const overlays: string[] = [];
  for (const b of options.binds ?? []) {
    if (/[:\n\t\0]/.test(b.host + b.guest)) throw new UnsafePathError(b.guest, 'bind paths may not contain colons or control characters');
    await ensureGuestDir(files, b.guest);
    if (!b.writable) {
      mounts.push(`--bind-ro=${b.host}:${b.guest}`);
      continue;
    }
    // The guest writes into an overlay whose upper folder is its own; the host folder stays as
    // it was. The upper folder belongs to guest root, so apt can make its locks and partial/.
    const upper = bindUpperDir(sandbox, b.guest);
    const base = join(upper, '..');
    const [data, work, merged] = [join(upper, 'data'), join(base, 'work'), join(base, 'merged')];
    if (!(await lstat(data).catch(() => undefined))) {
      await mkdir(data, { recursive: true, mode: 0o755 });
      await chown(data, sandbox.uidBase, sandbox.uidBase);
    }
    await mkdir(work, { recursive: true, mode: 0o700 });
    await mkdir(merged, { recursive: true, mode: 0o700 });
    overlays.push(overlaySafe(b.host), overlaySafe(data), overlaySafe(work), overlaySafe(merged));
    mounts.push(`--bind=${merged}:${b.guest}`);
  }
  if (options.network) {
    // The host's resolver, read-only, where the guest's /etc/resolv.conf leads (Debian links it
    // into /run, a tmpfs of the sandbox's own); never written into the image.
    const resolv = relative(files.root, await files.resolve('/etc/resolv.conf'));
    const st = await lstat(join(files.root, resolv)).catch(() => undefined);
    if (resolv.startsWith('run/') || st?.isFile()) mounts.push(`--bind-ro=/etc/resolv.conf:/${resolv}`);
  }

  const nspawn = [
    'systemd-nspawn',
    '--quiet',
    `--directory=${files.root}`,
    `--machine=${sandbox.machine}`,
    '--register=no',
    '--keep-unit',
    '--settings=no',
    `--private-users=${sandbox.uidBase}:${uidRange}`,
    '--private-users-ownership=map',
    '--as-pid2',
    '--pipe',
    '--chdir=/',
    // nspawn would otherwise copy or link these host facts into the image.
    '--resolv-conf=off',
    '--timezone=off',
    '--link-journal=no',
    `--drop-capability=${droppedCapabilities.join(',')}`,
    `--system-call-filter=~${refusedSyscalls.join(' ')}`,
    ...(options.network ? [] : ['--private-network']),
    ...setenv,
    ...mounts,
    '--',
    ...argv,
  ];
  // nspawn runs as PID 1 of a PID namespace of its own: when it is killed (a timeout, an abort,
  // our own death through --kill-child), the kernel kills everything in that namespace, the
  // guest's processes included — nspawn's own death alone would leave them running.
  const [cmd, ...args] = ['unshare', '--pid', '--fork', '--kill-child', '--mount', '--propagation', 'private', '--mount-proc', 'sh', '-c', setupScript, 'sh', sandbox.scratchDir, String(overlays.length / 4), ...overlays, ...nspawn];
  try {
    const r = await run(cmd!, args, {
      // /tmp stays the image's own folder, as package scripts expect (not a tmpfs).
      env: { PATH: process.env.PATH ?? guestPath, SYSTEMD_NSPAWN_TMPFS_TMP: '0' },
      input: options.input,
      timeoutMs: options.timeoutMs,
      signal: options.signal,
      allowFailure: true,
    });
    const stderr = r.stderr.replace(nspawnNoise, '');
    const result: ExecResult = { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr, durationMs: r.durationMs };
    if (result.exitCode !== 0 && !options.allowFailure) throw new ExternalToolError(`guest: ${argv[0]}`, argv, result.exitCode, stderr || r.stdout);
    return result;
  } finally {
    await rm(`/run/systemd/nspawn/propagate/${sandbox.machine}`, { recursive: true, force: true });
  }
}
