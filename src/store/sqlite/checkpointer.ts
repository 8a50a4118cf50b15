import { startThreadJob } from '../../core/thread-job.js';

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
  const job = startThreadJob<null>(new URL('./checkpoint-worker.js', import.meta.url), { files }, () => null);
  return {
    request: () => job.run(null).catch(() => undefined),
    close: () => job.close(),
  };
}
