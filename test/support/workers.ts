import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile, realpath } from 'node:fs/promises';
import { run } from '../../src/core/exec.js';
import type { WorkerEvent } from '../../src/queue/build-worker.js';
import { cliPath } from './repo.js';


export interface WorkerProcess {
  name: string;
  child: ChildProcess;
  events: Array<WorkerEvent & { at: string }>;
  stderr: () => string;
}

/** `prescient worker --json` in its own PRESCIENT_HOME (a machine of its own); resolves once it took its place in the queue. */
export async function startWorker(name: string, home: string, url: string, env: NodeJS.ProcessEnv = {}): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [cliPath, 'worker', '--json', '--queue-url', url, '--heartbeat-seconds', '1', '--lease-seconds', '5'], {
    env: { ...process.env, ...env, PRESCIENT_HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const events: WorkerProcess['events'] = [];
  let err = '';
  child.stderr!.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-20_000)));
  let buffered = '';
  const started = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (b: Buffer) => {
      buffered += b.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        const e = JSON.parse(line) as WorkerEvent & { at: string };
        events.push(e);
        if ((e as { type: string }).type === 'started') resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`worker ${name} exited (${code}): ${err}`)));
  });
  await started;
  return { name, child, events, stderr: () => err };
}

/** SIGTERM to every worker still running (a SIGKILLed one is gone already); resolves when all have exited. */
export async function stopWorkers(workers: readonly WorkerProcess[]): Promise<void> {
  const running = workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);
  const exited = running.map((w) => new Promise((r) => w.child.once('exit', r)));
  for (const w of running) w.child.kill('SIGTERM');
  await Promise.all(exited);
}

/**
 * What a SIGKILLed worker leaves behind on its machine (a qemu daemon, a mount of its session)
 * is that machine's to clean at its next start; here the test ends it: processes started under
 * that home are killed by pid, mounts under it unmounted.
 */
export async function reapLeftovers(home: string): Promise<void> {
  const real = await realpath(home);
  for (const pid of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes(real) || cmd.includes(home)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        /* gone already */
      }
    }
  }
  const mounts = (await readFile('/proc/mounts', 'utf8')).split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(real) || m.startsWith(home));
  for (const m of mounts.reverse()) await run('umount', ['-l', m], { allowFailure: true });
}

export async function until<T>(what: string, probe: () => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}


/** The worker whose build of `repository` has started `module` (mid-build: taken, not yet registered). */
export function untilModuleStarts(workers: readonly WorkerProcess[], repository: string, module: string, timeoutMs: number): Promise<WorkerProcess> {
  return until(
    `a worker's ${module} module building ${repository}`,
    () =>
      workers.find((w) => {
        const taken = w.events.find((e) => e.type === 'taken' && e.repository === repository);
        const id = taken?.type === 'taken' ? taken.id : undefined;
        return id !== undefined && w.events.some((e) => e.type === 'pipeline' && e.id === id && e.event.type === 'module-start' && e.event.module === module);
      }),
    timeoutMs,
  );
}
