import { access, constants, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { spawn } from 'node:child_process';

/**
 * Whether QEMU can really run guests under KVM here. /dev/kvm existing is not enough: on some
 * hosts QEMU aborts as soon as a vCPU with the host's CPU model runs ("failed to set MSR"), and on
 * others the firmware runs but a Linux kernel never prints a line (libguestfs's appliance then
 * hangs for good, with no error). So the probe boots the host's own kernel — the one supermin
 * puts in the appliance — under KVM and waits for its first line on the serial console: well
 * under a second where KVM works. Without a kernel in /boot, a tiny VM that survives a second
 * is the only test left.
 */
let cached: Promise<boolean> | undefined;

export function kvmWorks(): Promise<boolean> {
  cached ??= probe();
  return cached;
}

const probeSeconds = 20;

async function hostKernel(): Promise<string | undefined> {
  const names = (await readdir('/boot').catch(() => [] as string[])).filter((n) => n.startsWith('vmlinuz-')).sort();
  for (const n of names.reverse()) {
    const path = join('/boot', n);
    if (await access(path, constants.R_OK).then(() => true, () => false)) return path;
  }
  return undefined;
}

async function probe(): Promise<boolean> {
  try {
    await access('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return false;
  }
  const kernel = await hostKernel();
  const base = ['-accel', 'kvm', '-cpu', 'host', '-m', '128', '-display', 'none', '-nodefaults', '-no-user-config', '-no-reboot'];
  const args = kernel ? [...base, '-kernel', kernel, '-append', 'console=ttyS0 panic=-1', '-serial', 'stdio'] : [...base, '-M', 'q35', '-monitor', 'stdio'];
  return new Promise((resolve) => {
    const child = spawn('qemu-system-x86_64', args, { stdio: ['pipe', 'pipe', 'ignore'] });
    let out = '';
    let booted = false;
    const done = (ok: boolean): void => {
      clearTimeout(quit);
      clearTimeout(hardStop);
      resolve(ok);
    };
    // Without a kernel: the VM must still be running after a second, then quit cleanly.
    const quit = setTimeout(() => (kernel ? child.kill('SIGKILL') : child.stdin.end('quit\n')), kernel ? probeSeconds * 1000 : 1000);
    const hardStop = setTimeout(() => child.kill('SIGKILL'), (probeSeconds + 5) * 1000);
    child.stdout.on('data', (d: Buffer) => {
      if (!kernel || booted) return;
      out = (out + d.toString('latin1')).slice(-4096);
      if (/Linux version/.test(out)) {
        booted = true;
        child.kill('SIGKILL');
      }
    });
    child.on('error', () => done(false));
    child.stdin.on('error', () => {});
    child.on('close', (code) => done(kernel ? booted : code === 0));
  });
}

/** Environment for libguestfs: force software emulation when KVM does not work. */
export async function libguestfsEnv(): Promise<NodeJS.ProcessEnv> {
  const env: NodeJS.ProcessEnv = { ...process.env, LIBGUESTFS_BACKEND: process.env.LIBGUESTFS_BACKEND ?? 'direct' };
  if (!(await kvmWorks())) env.LIBGUESTFS_BACKEND_SETTINGS = 'force_tcg';
  return env;
}
