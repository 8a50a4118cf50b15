import { access, constants } from 'node:fs/promises';
import { spawn } from 'node:child_process';

/**
 * Whether QEMU can really run guests under KVM here. /dev/kvm existing is not enough: on some
 * hosts QEMU aborts as soon as a vCPU with the host's CPU model runs ("failed to set MSR").
 * So we start a tiny VM with `-cpu host` for a moment and see whether it survives.
 */
let cached: Promise<boolean> | undefined;

export function kvmWorks(): Promise<boolean> {
  cached ??= probe();
  return cached;
}

async function probe(): Promise<boolean> {
  try {
    await access('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return false;
  }
  return new Promise((resolve) => {
    const child = spawn(
      'qemu-system-x86_64',
      ['-accel', 'kvm', '-cpu', 'host', '-M', 'q35', '-m', '64', '-display', 'none', '-nodefaults', '-no-user-config', '-monitor', 'stdio'],
      { stdio: ['pipe', 'ignore', 'ignore'] },
    );
    const timer = setTimeout(() => child.stdin.end('quit\n'), 1000);
    const hardStop = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('error', () => resolve(false));
    child.stdin.on('error', () => {});
    child.on('close', (code) => {
      clearTimeout(timer);
      clearTimeout(hardStop);
      resolve(code === 0);
    });
  });
}

/** Environment for libguestfs: force software emulation when KVM does not work. */
export async function libguestfsEnv(): Promise<NodeJS.ProcessEnv> {
  const env: NodeJS.ProcessEnv = { ...process.env, LIBGUESTFS_BACKEND: process.env.LIBGUESTFS_BACKEND ?? 'direct' };
  if (!(await kvmWorks())) env.LIBGUESTFS_BACKEND_SETTINGS = 'force_tcg';
  return env;
}
