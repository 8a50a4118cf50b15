import { randomBytes } from 'node:crypto';
import { link, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { AbortedError, TimeoutError } from './errors.js';

/**
 * A lock between processes (the CLI, the server, build workers) on one machine. The lock file is
 * created atomically with link(2) already holding the owner's pid, so a process killed at any
 * point leaves either no lock or a lock naming a dead pid, which the next taker removes.
 * Within one process, callers are queued first so the process never waits on itself.
 */
export class FileLock {
  readonly #path: string;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(path: string) {
    this.#path = path;
  }

  run<T>(fn: () => Promise<T>, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<T> {
    const next = this.#queue.then(async () => {
      await this.#acquire(options.timeoutMs ?? 60_000, options.signal);
      try {
        return await fn();
      } finally {
        await unlink(this.#path).catch(() => undefined);
      }
    });
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async #acquire(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const mine = `${this.#path}.${process.pid}.${randomBytes(4).toString('hex')}`;
    await writeFile(mine, String(process.pid));
    const deadline = Date.now() + timeoutMs;
    try {
      for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
        if (signal?.aborted) throw new AbortedError('waiting for a lock');
        try {
          await link(mine, this.#path);
          return;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        }
        const owner = Number((await readFile(this.#path, 'utf8').catch(() => '')).trim());
        if (owner && !isProcessAlive(owner)) {
          await this.#breakStale(owner, mine);
          continue;
        }
        if (Date.now() > deadline) throw new TimeoutError(`lock ${this.#path} (held by pid ${owner})`, timeoutMs);
        await new Promise((r) => setTimeout(r, delay));
      }
    } finally {
      await unlink(mine).catch(() => undefined);
    }
  }

  /**
   * Remove a dead owner's lock. The lock is first moved aside atomically and read there: if a
   * live contender replaced it in the meantime, it is linked back instead of being lost.
   */
  async #breakStale(owner: number, mine: string): Promise<void> {
    const aside = `${mine}.stale`;
    try {
      await rename(this.#path, aside);
    } catch {
      return; // someone else broke it first
    }
    const moved = Number((await readFile(aside, 'utf8').catch(() => '')).trim());
    if (moved !== owner) await link(aside, this.#path).catch(() => undefined);
    await unlink(aside).catch(() => undefined);
  }
}

/** True while a process with this pid exists (used to recognise locks and temp files of dead processes). */
export function isProcessAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Runs `work` holding the lock at `lockPath`. Waits as long as the holder lives (building a
 * base image or a layer can take minutes); a dead holder's lock is taken over.
 */
export function withFileLock<T>(lockPath: string, work: () => Promise<T>, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<T> {
  return new FileLock(lockPath).run(work, { timeoutMs: options.timeoutMs ?? 24 * 3600_000, ...(options.signal ? { signal: options.signal } : {}) });
}
