import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AbortedError, namingFileAs } from '../core/errors.js';
import { withImageSession } from '../image/open.js';
import { createOverlay } from '../image/qemu-img.js';
import { assertSafeImageChain, homeLayerDirs } from '../image/image-chain.js';
import { createSessionRecord, teardownSession } from '../image/runtime-state.js';
import { serviceTuners } from '../pipeline/modules/services/services-module.js';
import type { MachineCredentials } from '../pipeline/spec/machine-seed.js';
import type { Expectations } from './expectations.js';
import { probeName, probePort } from './port-probes.js';
import { installProbe, parseProbe, type ProbeReport } from './probe.js';
import { freePort, startVm } from './qemu-vm.js';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface VerifyReport {
  image: string;
  ok: boolean;
  accel: 'kvm' | 'tcg';
  /** From QEMU's start until the guest reported (system up, expected services settled). */
  readyMs?: number;
  checks: Check[];
}

export interface VerifyOptions {
  image: string;
  expectations: Expectations;
  runtimeDir: string;
  timeoutMs?: number;
  /** The machine's NoCloud seed (cloud-init.iso beside the disk): its user, keys and passwords. */
  seedIso?: string;
  /** The services' passwords the seed carries (credentials.json beside the disk). */
  credentials?: MachineCredentials;
  /** Log in over SSH as this user with this private key. */
  login?: { user: string; identityFile: string };
  signal?: AbortSignal;
  onProgress?: (text: string) => void;
  /**
   * Called once the checks ran, with the VM still up: more checks on the same boot (a boot costs
   * minutes under emulation). What it returns is added to the report.
   */
  onBooted?: (input: { forwards: readonly { guestPort: number; hostPort: number }[]; report: ProbeReport; signal?: AbortSignal }) => Promise<Check[]>;
}

/** The unit behind a guest port, for its journal lines when the port does not answer. */
function unitForPort(port: number): string | undefined {
  if (port === 22) return 'ssh.service';
  return serviceTuners.find((t) => t.ports.includes(port))?.unit;
}

function judge(e: Expectations, r: ProbeReport): Check[] {
  const checks: Check[] = [];
  checks.push({ name: 'vCPUs', ok: r.nproc === e.vcpus, detail: `guest sees ${r.nproc}, expected ${e.vcpus}` });
  const memMiB = (r.memKiB ?? 0) / 1024;
  // The kernel keeps some memory for itself: MemTotal is a little below what the VM has.
  checks.push({ name: 'memory', ok: memMiB >= e.memoryMiB * 0.9 && memMiB <= e.memoryMiB, detail: `guest sees ${Math.round(memMiB)} MiB, expected ${e.memoryMiB} MiB` });
  if (e.diskGiB !== undefined) {
    const gib = (r.rootBytes ?? 0) / 1024 ** 3;
    checks.push({ name: 'disk', ok: gib >= e.diskGiB * 0.9, detail: `root filesystem ${gib.toFixed(2)} GiB, expected about ${e.diskGiB} GiB` });
  }
  for (const p of e.packages) {
    const status = r.packages[p] ?? 'not reported';
    checks.push({ name: `package ${p}`, ok: status === 'install_ok_installed', detail: status.replace(/_/g, ' ') });
  }
  for (const u of e.units) {
    const state = r.units[u] ?? 'not reported';
    checks.push({ name: `service ${u}`, ok: state === 'active', detail: state === 'active' ? 'active' : `${state}; journal: ${r.unitLogs[u] ?? '(none)'}` });
  }
  if (e.firewallTcpPorts.length) {
    const open = new Set(r.firewallTcpPorts);
    const missing = e.firewallTcpPorts.filter((p) => !open.has(p));
    const extra = [...open].filter((p) => !e.firewallTcpPorts.includes(p));
    checks.push({
      name: 'firewall',
      ok: r.firewallLoaded && missing.length === 0 && extra.length === 0,
      detail: r.firewallLoaded ? `inbound TCP open: ${[...open].sort((a, b) => a - b).join(', ') || 'none'}${missing.length ? `; missing ${missing.join(', ')}` : ''}${extra.length ? `; unexpected ${extra.join(', ')}` : ''}` : 'no nftables ruleset loaded',
    });
  }
  return checks;
}

/**
 * Boots the image (through a throwaway overlay holding the probe) and checks it from inside
 * (packages, services, firewall, resources as the guest sees them) and from outside (an HTTP
 * GET through a forwarded port to each web service). The VM is always stopped and every
 * temporary file removed, also on failure or abort; a killed run's QEMU is stopped at the
 * next start.
 */
export async function verifyImage(options: VerifyOptions): Promise<VerifyReport> {
  const e = options.expectations;
  // Everything lives in the session record's folder: a killed run's QEMU and overlay are both
  // removed by the next start's cleanup.
  const record = await createSessionRecord(options.runtimeDir, { backend: 'vm', image: options.image });
  const progress = options.onProgress ?? (() => undefined);
  try {
    const overlay = join(record.dir, 'verify.qcow2');
    // qemu-img create opens the image's chain: its header is checked first, as every open's is.
    await assertSafeImageChain(options.image, { trustedDirs: homeLayerDirs(options.runtimeDir) });
    await createOverlay(options.image, overlay);
    progress('install the probe in a throwaway overlay');
    // Every port the firewall opens is probed the way its user would use it, and web servers
    // answer HTTP even where the firewall was not asked about.
    const guestPorts = [...new Set([...e.firewallTcpPorts, ...e.httpPorts])].sort((a, b) => a - b);
    const logUnits = guestPorts.flatMap((p) => unitForPort(p) ?? []);
    await withImageSession(overlay, { runtimeDir: options.runtimeDir, trustedFiles: [options.image], ...(options.signal ? { signal: options.signal } : {}) }, (s) => installProbe(s, { ...e, logUnits })).catch((err: unknown) => {
      throw namingFileAs(err, overlay, options.image);
    });
    const forwards = await Promise.all(guestPorts.map(async (guestPort) => ({ guestPort, hostPort: await freePort() })));
    const vm = await startVm({
      disk: overlay,
      vcpus: e.vcpus,
      memoryMiB: e.memoryMiB,
      forwards,
      runtimeDir: options.runtimeDir,
      record,
      ...(options.seedIso ? { extraDrives: [{ file: options.seedIso, format: 'raw' as const, media: 'cdrom' as const }] } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    try {
      progress(`boot (${vm.accel === 'kvm' ? 'KVM' : 'software emulation'})`);
      const deadline = performance.now() + (options.timeoutMs ?? 15 * 60_000);
      let report: ProbeReport | undefined;
      let readyMs: number | undefined;
      while (!report) {
        if (options.signal?.aborted) throw new AbortedError('verify');
        if (performance.now() > deadline) break;
        const serial = await readFile(vm.serialLog, 'utf8').catch(() => '');
        if (readyMs === undefined && serial.includes('PRESCIENT-VERIFY begin')) readyMs = performance.now() - vm.startedAt;
        report = parseProbe(serial);
        if (!report) await new Promise((r) => setTimeout(r, 500));
      }
      if (!report) {
        const tail = (await readFile(vm.serialLog, 'utf8').catch(() => '')).split('\n').slice(-5).join(' | ');
        return { image: options.image, ok: false, accel: vm.accel, checks: [{ name: 'boot', ok: false, detail: `the guest did not report within the time limit; console: ${tail}` }] };
      }
      const checks: Check[] = [{ name: 'boot', ok: true, detail: `up and reporting after ${((readyMs ?? 0) / 1000).toFixed(1)} s` }, ...judge(e, report)];
      for (const f of forwards) {
        const name = probeName(f.guestPort);
        progress(`${name} from the host`);
        const credential = options.credentials?.services.find((c) => c.port === f.guestPort);
        const target = { ...f, timeoutMs: 10_000, ...(credential ? { credential } : {}), ...(options.login && f.guestPort === 22 ? { login: options.login } : {}) };
        // Services (and cloud-init's user) may still be settling just after the probe reported.
        let r = await probePort(target);
        for (let i = 0; i < 12 && !r.ok; i++) {
          await new Promise((res) => setTimeout(res, 5000));
          r = await probePort(target);
        }
        const unit = unitForPort(f.guestPort);
        const journal = !r.ok && unit && report.unitLogs[unit] ? `; ${unit} journal: ${report.unitLogs[unit]}` : '';
        checks.push({ name, ok: r.ok, detail: `${r.detail}${journal}` });
      }
      if (options.onBooted) checks.push(...(await options.onBooted({ forwards, report, ...(options.signal ? { signal: options.signal } : {}) })));
      return { image: options.image, ok: checks.every((c) => c.ok), accel: vm.accel, ...(readyMs !== undefined ? { readyMs } : {}), checks };
    } finally {
      await vm.stop();
    }
  } finally {
    await teardownSession(record);
  }
}
