import { startThreadJob } from '../../core/thread-job.js';

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

export function startRollupThread(file: string, rollupsFile: string): RollupThread {
  const job = startThreadJob<boolean>(new URL('./rollup-worker.js', import.meta.url), { file, rollupsFile }, (a, b) => a || b);
  return {
    catchUp: (mixed) =>
      job.run(mixed).catch((e: unknown) => {
        throw new Error(`rolling up resource samples: ${e instanceof Error ? e.message : String(e)}`);
      }),
    close: () => job.close(),
  };
}
