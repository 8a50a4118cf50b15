import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';

/**
 * The thread half of startCheckpointer: its own connection to the store, copying the WAL back
 * into the database file (PASSIVE: never waits for, never blocks, the writer) when asked.
 */
const db = new Database((workerData as { file: string }).file, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
parentPort!.on('message', (m: { type: 'checkpoint' | 'close' }) => {
  if (m.type === 'checkpoint') {
    try {
      db.pragma('wal_checkpoint(PASSIVE)');
    } catch {
      /* busy or closing: the next request, or the writer's own autocheckpoint, catches up */
    }
    parentPort!.postMessage({ type: 'done' });
  } else {
    db.close();
    parentPort!.close();
  }
});
