import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';

/**
 * The thread half of startCheckpointer: its own connection to each of the store's files, copying
 * their WALs back into them (PASSIVE: never waits for, never blocks, a writer) when asked.
 */
const dbs = (workerData as { files: string[] }).files.map((file) => {
  const db = new Database(file, { fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  return db;
});
parentPort!.on('message', (m: { type: 'checkpoint' | 'close' }) => {
  if (m.type === 'checkpoint') {
    for (const db of dbs) {
      try {
        db.pragma('wal_checkpoint(PASSIVE)');
      } catch {
        /* busy or closing: the next request, or the writer's own autocheckpoint, catches up */
      }
    }
    parentPort!.postMessage({ type: 'done' });
  } else {
    for (const db of dbs) db.close();
    parentPort!.close();
  }
});
