import { run } from '../../../core/exec.js';
import { ExternalToolError, UnsafePathError } from '../../../core/errors.js';
import type { ExecOptions, ExecResult } from '../../session.js';
import type { GuestFiles } from './guest-files.js';
import { ensureGuestDir, guestEnv } from './sandbox-exec.js';

/**
 * The old exec, kept only as the benchmark's baseline (PRESCIENT_BENCH_EXEC=chroot, see
 * bench/sandbox-exec.ts): guest code runs as host root, with all capabilities, the host's user
 * and network namespaces and no seccomp, and a chroot it can escape. Sessions use
 * sandbox-exec.ts. Runs a command inside the guest root. The command gets private mount and PID namespaces
 * (unshare), in which /proc, /sys (read-only), a minimal /dev (null, zero, random… — not the
 * host's disks), /run and the host's resolv.conf are mounted for it alone. Nothing is mounted
 * in the host's namespace, so a killed run leaves no mount behind, and guest processes cannot
 * see host processes through /proc.
 */
const namespaceScript = `
set -eu
root=$1 proc=$2 sys=$3 dev=$4 runDir=$5 resolv=$6 binds=$7
shift 7
mount -t proc -o nosuid,nodev,noexec proc "$proc"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$sys"
mount -t tmpfs -o mode=755,nosuid,size=16m dev "$dev"
mknod -m 666 "$dev/null" c 1 3; mknod -m 666 "$dev/zero" c 1 5; mknod -m 666 "$dev/full" c 1 7
mknod -m 666 "$dev/random" c 1 8; mknod -m 666 "$dev/urandom" c 1 9; mknod -m 666 "$dev/tty" c 5 0
ln -s /proc/self/fd "$dev/fd"; ln -s /proc/self/fd/0 "$dev/stdin"; ln -s /proc/self/fd/1 "$dev/stdout"; ln -s /proc/self/fd/2 "$dev/stderr"
mkdir "$dev/pts" "$dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$dev/pts"; ln -s pts/ptmx "$dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev shm "$dev/shm"
mount -t tmpfs -o mode=755,nosuid,nodev run "$runDir"
if [ -n "$resolv" ] && [ -f /etc/resolv.conf ]; then
  case "$resolv" in "$runDir"/*) mkdir -p "\${resolv%/*}"; : > "$resolv";; esac
  if [ -f "$resolv" ]; then mount --bind /etc/resolv.conf "$resolv" && mount -o remount,bind,ro "$resolv"; fi
fi
# binds: host<TAB>guest pairs, one per line; the guest side was resolved inside the root.
if [ -n "$binds" ]; then
  printf '%s\n' "$binds" | while IFS='	' read -r host guest; do mount --bind "$host" "$guest"; done
fi
exec chroot "$root" "$@"
`;

export async function chrootExec(files: GuestFiles, argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  if (argv.length === 0) throw new UnsafePathError('', 'an empty command');
  const [proc, sys, dev, runDir] = [
    await ensureGuestDir(files, '/proc'),
    await ensureGuestDir(files, '/sys'),
    await ensureGuestDir(files, '/dev'),
    await ensureGuestDir(files, '/run'),
  ];
  const resolv = await files.resolve('/etc/resolv.conf');
  const binds: string[] = [];
  for (const b of options.binds ?? []) {
    if (/[\t\n]/.test(b.host + b.guest)) throw new UnsafePathError(b.guest, 'bind paths may not contain tabs or newlines');
    binds.push(`${b.host}\t${await ensureGuestDir(files, b.guest)}`);
  }
  const r = await run(
    'unshare',
    ['--mount', '--pid', '--fork', '--kill-child', '--propagation', 'private', 'sh', '-c', namespaceScript, 'sh', files.root, proc, sys, dev, runDir, resolv, binds.join('\n'), ...argv],
    {
      env: guestEnv(options.env),
      input: options.input,
      timeoutMs: options.timeoutMs,
      signal: options.signal,
      allowFailure: true,
    },
  );
  const result: ExecResult = { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr, durationMs: r.durationMs };
  if (result.exitCode !== 0 && !options.allowFailure) {
    throw new ExternalToolError(`guest: ${argv[0]}`, argv, result.exitCode, r.stderr || r.stdout);
  }
  return result;
}
