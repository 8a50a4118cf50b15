import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AbortedError, ValidationError } from '../core/errors.js';
import { kvmWorks } from '../image/kvm.js';
import { createSessionRecord, processComm, saveSessionRecord, teardownSession, type SessionRecord } from '../image/runtime-state.js';

/**
 * A VM under QEMU for checking an image: KVM when it really works here, software emulation
 * otherwise; user-mode networking with host ports forwarded to guest ports on 127.0.0.1 only;
 * the serial console written to a file. Recorded like an image session, so a killed run's
 * QEMU is stopped at the next start.
 */
export interface VmOptions {
  disk: string;
  vcpus: number;
  memoryMiB: number;
  /** guest port → host port on 127.0.0.1 */
  forwards: readonly { guestPort: number; hostPort: number }[];
  /**
   * Guest → host: a connection from the guest to guestAddress:guestPort reaches 127.0.0.1:hostPort
   * (QEMU's guestfwd; how an in-guest agent reaches a server on the host's loopback).
   */
  guestForwards?: readonly { guestAddress: string; guestPort: number; hostPort: number }[];
  /** Isolate the guest: no packets routed anywhere but the forwards (QEMU's restrict=on). */
  restrict?: boolean;
  runtimeDir: string;
  extraDrives?: readonly { file: string; format: 'raw' | 'qcow2'; media: 'cdrom' | 'disk' }[];
  signal?: AbortSignal;
  /** The session record to keep the VM in (its folder may hold the disk); made if absent. */
  record?: SessionRecord;
}

export interface RunningVm {
  pid: number;
  accel: 'kvm' | 'tcg';
  serialLog: string;
  startedAt: number;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (the kernel picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const loopbackPipe = fileURLToPath(new URL('./loopback-pipe.js', import.meta.url));

export async function startVm(options: VmOptions): Promise<RunningVm> {
  if (options.signal?.aborted) throw new AbortedError('starting a VM');
  const accel = (await kvmWorks()) ? 'kvm' : 'tcg';
  const record: SessionRecord = options.record ?? (await createSessionRecord(options.runtimeDir, { backend: 'vm', image: options.disk }));
  const serialLog = join(record.dir, 'serial.log');
  for (const g of options.guestForwards ?? []) {
    if (!/^10\.0\.2\.\d{1,3}$/.test(g.guestAddress)) throw new ValidationError('guestForwards.guestAddress', 'expected an address of the user-mode network 10.0.2.0/24');
  }
  const netdev = [
    'user',
    'id=net0',
    ...(options.restrict ? ['restrict=on'] : []),
    ...options.forwards.map((f) => `hostfwd=tcp:127.0.0.1:${f.hostPort}-:${f.guestPort}`),
    // One relay process per guest connection (a `tcp:` chardev would be one connection for all).
    ...(options.guestForwards ?? []).map((g) => `guestfwd=tcp:${g.guestAddress}:${g.guestPort}-cmd:${process.execPath} ${loopbackPipe} ${g.hostPort}`),
  ].join(',');
  const args = [
    '-accel', accel,
    ...(accel === 'kvm' ? ['-cpu', 'host'] : ['-cpu', 'max']),
    '-M', 'q35',
    '-smp', String(options.vcpus),
    '-m', String(options.memoryMiB),
    '-display', 'none',
    '-nodefaults',
    '-no-user-config',
    '-serial', `file:${serialLog}`,
    '-drive', `file=${options.disk},if=virtio,format=qcow2,discard=unmap`,
    ...(options.extraDrives ?? []).flatMap((d) => ['-drive', `file=${d.file},format=${d.format},media=${d.media},readonly=on`]),
    '-netdev', netdev,
    '-device', 'virtio-net-pci,netdev=net0',
    '-device', 'virtio-rng-pci',
  ];
  const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  child.unref();
  const pid = child.pid!;
  record.daemonPid = pid;
  record.daemonName = (await processComm(pid)) ?? 'qemu-system-x86';
  await saveSessionRecord(record);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await teardownSession(record); // SIGTERM, then SIGKILL; removes the serial log and the record
  };
  child.once('exit', (code) => {
    if (!stopped && code !== 0) stderr += `\nQEMU exited with ${code}`;
  });
  options.signal?.addEventListener('abort', () => void stop(), { once: true });
  return { pid, accel, serialLog, startedAt: performance.now(), stop };
}
