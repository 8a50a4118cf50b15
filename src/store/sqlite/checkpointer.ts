import { Worker } from 'node:worker_threads';

/**
 * Checkpoints off the writer's thread. In WAL mode every committed page is written twice: to
 * the WAL, then (checkpoint) to the database file, with an fsync. Run by the writer's own
 * connection, that copy and that fsync stall the only thread that can write: a third of a bulk
 * import's time. A second connection on a worker thread does it while the writer goes on.
 * Started on the first request only (small stores and tests never pay for the thread); the
 * writer keeps its autocheckpoint as a safety net should this thread fall behind.
 */
export interface Checkpointer {
  /**
   * Asks for a passive checkpoint; requests made while one runs are merged into the next.
   * Resolves once a checkpoint that started after the request is over (never rejects: a failed
   * checkpoint is retried by the next request or the writer's autocheckpoint).
   */
  request(): Promise<void>;
  close(): Promise<void>;
}

/** `files`: the database files whose WALs it copies back (the store's, the rollups'). */
export function startCheckpointer(files: readonly string[]): Checkpointer {
  let worker: Worker | undefined;
  let running = false;
  let again = false;
  let closed = false;
  /** Who waits for the checkpoint running now, and for the next one. */
  let current: (() => void)[] = [];
  let next: (() => void)[] = [];
  const settle = (waiters: (() => void)[]): void => waiters.forEach((w) => w());
  const run = (): void => {
    running = true;
    again = false;
    current = next;
    next = [];
    worker!.postMessage({ type: 'checkpoint' });
  };
  return {
    request() {
      if (closed) return Promise.resolve();
      const done = new Promise<void>((resolve) => next.push(resolve));
      if (worker === undefined) {
        worker = new Worker(new URL('./checkpoint-worker.js', import.meta.url), { workerData: { files } });
        worker.unref(); // never what keeps a process alive
        worker.on('message', () => {
          running = false;
          settle(current);
          current = [];
          if (again && !closed) run();
          else if (again) settle(next.splice(0));
        });
        worker.on('error', () => {
          worker = undefined; // the writer's autocheckpoint still works
          closed = true;
          settle([...current.splice(0), ...next.splice(0)]);
        });
      }
      if (running) again = true;
      else run();
      return done;
    },
    async close() {
      closed = true;
      if (worker === undefined) return;
      const w = worker;
      worker = undefined;
      w.ref(); // an unref'd thread would let the process exit while close() waits for it
      await new Promise<void>((resolve) => {
        w.once('exit', () => resolve());
        w.postMessage({ type: 'close' });
      });
    },
  };
}
