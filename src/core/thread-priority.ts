import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/**
 * Makes the calling thread yield the CPU to the process's other threads (Linux: a thread is a
 * task with its own nice value; /proc/thread-self names it). For a helper thread with slack — a
 * parser that runs ahead of the writer it feeds — so that on a busy machine the threads on the
 * critical path get the cores first. Anywhere this cannot be done, it does nothing.
 */
export function lowerThisThreadPriority(by: number): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid)) return;
    setPriority(tid, Math.min(19, getPriority(tid) + by));
  } catch {
    /* not Linux, or not allowed: same result, a bit slower */
  }
}
