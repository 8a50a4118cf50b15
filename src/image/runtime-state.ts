import { randomBytes } from 'node:crypto';
import { readFile, readdir, rm, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../core/exec.js';
import { makePrivateDir } from '../core/private-file.js';

/**
 * What a live session has attached (daemon, mounts), written down before each attach step, so
 * that a process killed with SIGKILL leaves a record the next start can tear down. A record
 * whose owner process is gone is stale; `cleanupStaleSessions` detaches everything it names.
 */
export interface SessionRecord {
  id: string;
  ownerPid: number;
  ownerStartTime: string; // from /proc/<pid>/stat, so a reused pid is not mistaken for the owner
  backend: 'mount' | 'guestfs' | 'vm';
  image: string;
  dir: string;
  daemonPid?: number; // qemu-storage-daemon or guestfish --listen
  daemonName?: string; // its comm, checked before killing
  fuseFile?: string;
  mountpoint?: string;
  /** A loop device used without a mount (offline filesystem work); detached at teardown. */
  loopDevice?: string;
}

export async function processStartTime(pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Field 22, counted after the parenthesised command name (which may contain spaces).
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

export async function processComm(pid: number): Promise<string | undefined> {
  try {
    return (await readFile(`/proc/${pid}/comm`, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

export function sessionsDir(runtimeDir: string): string {
  return join(runtimeDir, 'sessions');
}

export async function createSessionRecord(runtimeDir: string, fields: Pick<SessionRecord, 'backend' | 'image'>): Promise<SessionRecord> {
  const id = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const dir = join(sessionsDir(runtimeDir), id);
  await makePrivateDir(dir);
  const record: SessionRecord = {
    id,
    ownerPid: process.pid,
    ownerStartTime: (await processStartTime(process.pid)) ?? '',
    dir,
    ...fields,
  };
  await saveSessionRecord(record);
  return record;
}

export async function saveSessionRecord(record: SessionRecord): Promise<void> {
  const tmp = join(record.dir, 'state.json.tmp');
  await writeFile(tmp, JSON.stringify(record));
  await rename(tmp, join(record.dir, 'state.json'));
}

/** Gone, or a zombie: a daemon re-parented to an init that reaps slowly stays a zombie a while. */
async function hasExited(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return true;
  }
}

async function isMounted(path: string): Promise<boolean> {
  const mounts = await readFile('/proc/self/mountinfo', 'utf8');
  // Field 5 is the mount point, with spaces and backslashes octal-escaped.
  const escaped = path.replace(/\\/g, '\\134').replace(/ /g, '\\040').replace(/\t/g, '\\011').replace(/\n/g, '\\012');
  return mounts.split('\n').some((line) => line.split(' ')[4] === escaped);
}

async function unmount(path: string): Promise<void> {
  for (let i = 0; i < 20 && (await isMounted(path)); i++) {
    const r = await run('umount', [path], { allowFailure: true });
    if (r.exitCode !== 0) await new Promise((res) => setTimeout(res, 100));
  }
  // Something still holds it (a process that escaped us): detach lazily rather than leak it.
  if (await isMounted(path)) await run('umount', ['-l', path], { allowFailure: true });
}

async function stopDaemon(pid: number, name: string | undefined): Promise<void> {
  if (name !== undefined && (await processComm(pid)) !== name) return; // gone, or the pid was reused
  try {
    process.kill(pid, 'SIGTERM'); // qemu-storage-daemon flushes and removes its FUSE export on SIGTERM
  } catch {
    return;
  }
  for (let i = 0; i < 250; i++) {
    if (await hasExited(pid)) return;
    await new Promise((res) => setTimeout(res, 20));
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

/**
 * Detaches everything the record names, in reverse order of attaching, and removes its folder.
 * The root filesystem is first made read-only, which flushes its journal to the image: any
 * process that unshared a mount namespace while it was mounted holds a copy of the mount that
 * our unmount cannot reach, and without this the filesystem would be written (its journal
 * closed) only when that copy goes, after the image's export is gone. `beforeStop` runs once the
 * filesystem is unmounted, while the export still serves it; its error is thrown after the teardown.
 */
export async function teardownSession(record: SessionRecord, options: { beforeStop?: () => Promise<void> } = {}): Promise<void> {
  if (record.mountpoint && (await isMounted(record.mountpoint))) await run('mount', ['-o', 'remount,ro', record.mountpoint], { allowFailure: true, timeoutMs: 120_000 });
  if (record.mountpoint) await unmount(record.mountpoint);
  if (record.loopDevice) await run('losetup', ['-d', record.loopDevice], { allowFailure: true });
  let failure: unknown;
  if (options.beforeStop) await options.beforeStop().catch((e: unknown) => (failure = e));
  if (record.daemonPid) await stopDaemon(record.daemonPid, record.daemonName);
  if (record.fuseFile && (await isMounted(record.fuseFile))) await unmount(record.fuseFile);
  await rm(record.dir, { recursive: true, force: true });
  if (failure !== undefined) throw failure;
}

async function ownerAlive(record: SessionRecord): Promise<boolean> {
  const start = await processStartTime(record.ownerPid);
  return start !== undefined && start === record.ownerStartTime;
}

/** Tears down every session whose owner process is gone. Returns the ids it cleaned. */
export async function cleanupStaleSessions(runtimeDir: string): Promise<string[]> {
  const dir = sessionsDir(runtimeDir);
  const names = await readdir(dir).catch(() => [] as string[]);
  const cleaned: string[] = [];
  for (const name of names) {
    let record: SessionRecord;
    try {
      record = JSON.parse(await readFile(join(dir, name, 'state.json'), 'utf8')) as SessionRecord;
    } catch {
      // A folder without a readable record was never attached to anything.
      if (!(await processStartTime(Number(name.split('-')[0])))) await rm(join(dir, name), { recursive: true, force: true });
      continue;
    }
    if (await ownerAlive(record)) continue;
    await teardownSession(record);
    cleaned.push(record.id);
  }
  return cleaned;
}
