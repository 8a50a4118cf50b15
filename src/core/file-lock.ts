import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AbortedError } from './errors.js';

/**
 * A lock between processes on one machine: a folder created atomically, holding the owner's
 * pid. A lock whose owner is gone (killed) is taken over. Used where two runs would otherwise
 * build the same thing at once (a base image, a layer).
 */
export async function withFileLock<T>(lockDir: string, work: () => Promise<T>, options: { signal?: AbortSignal; pollMs?: number } = {}): Promise<T> {
  for (;;) {
    try {
      await mkdir(lockDir);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const owner = Number(await readFile(join(lockDir, 'pid'), 'utf8').catch(() => ''));
    if (owner && !alive(owner)) {
      await rm(lockDir, { recursive: true, force: true });
      continue;
    }
    if (options.signal?.aborted) throw new AbortedError('waiting for a lock');
    await new Promise((r) => setTimeout(r, options.pollMs ?? 200));
  }
  try {
    await writeFile(join(lockDir, 'pid'), String(process.pid));
    return await work();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
