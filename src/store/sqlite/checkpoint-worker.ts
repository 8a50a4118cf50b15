import Database from 'better-sqlite3';
import { workerData } from 'node:worker_threads';
import { serveThreadJob } from '../../core/thread-job.js';

/**
 * The thread half of startCheckpointer: its own connection to each of the store's files, copying
 * their WALs back into them (PASSIVE: never waits for, never blocks, a writer) when asked.
 */
const dbs = (workerData as { files: string[] }).files.map((file) => {
  const db = new Database(file, { fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  return db;
});
serveThreadJob<null>(
  () => {
    for (const db of dbs) {
      try {
        db.pragma('wal_checkpoint(PASSIVE)');
      } catch {
        /* busy or closing: the next request, or the writer's own autocheckpoint, catches up */
      }
    }
  },
  () => dbs.forEach((db) => db.close()),
);
