import { Worker } from 'node:worker_threads';

/**
 * Rollups are built on their own thread, into their own file. SQLite lets one connection write a
 * file at a time: with raw samples and rollups in one file, a bulk import did both on one thread
 * (raw rows 1.7 s, rollups 2.5 s of CPU for the Bitbrains month) while the second core idled.
 * Rollups live in `<store>-rollups.db`, derived from the committed raw samples after a watermark
 * kept in that same file (so they can never disagree after a crash), and this thread's own
 * connection writes them while the importing thread goes on writing raw samples.
 * Started on the first request only: small stores and tests that never read rollups never pay
 * for the thread.
 */
export interface RollupThread {
  /**
   * Rolls up every raw sample committed before the call; resolves once they are in the rollups.
   * Requests made while one runs share the next run. `mixed`: samples of many subjects
   * interleaved (live data), which take the GROUP BY form.
   */
  catchUp(mixed: boolean): Promise<void>;
  close(): Promise<void>;
}

export type RollupRequest = { type: 'catch-up'; mixed: boolean } | { type: 'close' };
export type RollupReply = { type: 'done'; watermark: number } | { type: 'failed'; message: string };

interface Waiter {
  resolve: () => void;
  reject: (e: Error) => void;
}
interface Job {
  waiters: Waiter[];
  mixed: boolean;
}

export function startRollupThread(file: string, rollupsFile: string): RollupThread {
  let worker: Worker | undefined;
  let running: Job | undefined;
  let queued: Job | undefined;
  let idle: (() => void) | undefined;

  const settle = (job: Job, error?: Error): void => {
    for (const w of job.waiters) error ? w.reject(error) : w.resolve();
  };
  const start = (job: Job): void => {
    running = job;
    worker!.ref(); // someone awaits this run: the process must not exit under it
    worker!.postMessage({ type: 'catch-up', mixed: job.mixed } satisfies RollupRequest);
  };
  const spawn = (): Worker => {
    const w = new Worker(new URL('./rollup-worker.js', import.meta.url), { workerData: { file, rollupsFile } });
    w.on('message', (reply: RollupReply) => {
      const done = running!;
      running = undefined;
      if (queued !== undefined) {
        const next = queued;
        queued = undefined;
        start(next);
      } else {
        w.unref();
        idle?.();
      }
      settle(done, reply.type === 'failed' ? new Error(`rolling up resource samples: ${reply.message}`) : undefined);
    });
    w.on('error', (e) => {
      // The thread is gone: fail what waits on it; the next request starts a new one.
      worker = undefined;
      for (const job of [running, queued]) if (job) settle(job, e);
      running = queued = undefined;
      idle?.();
    });
    return w;
  };

  return {
    catchUp(mixed) {
      return new Promise<void>((resolve, reject) => {
        worker ??= spawn();
        const waiter = { resolve, reject };
        if (running === undefined) start({ waiters: [waiter], mixed });
        else {
          queued ??= { waiters: [], mixed: false };
          queued.waiters.push(waiter);
          queued.mixed ||= mixed;
        }
      });
    },
    async close() {
      if (worker === undefined) return;
      if (running !== undefined) await new Promise<void>((resolve) => (idle = resolve));
      const w = worker;
      worker = undefined;
      if (w === undefined) return;
      w.ref();
      await new Promise<void>((resolve) => {
        w.once('exit', () => resolve());
        w.postMessage({ type: 'close' } satisfies RollupRequest);
      });
    },
  };
}
