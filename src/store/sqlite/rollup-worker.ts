import Database from 'better-sqlite3';
import { workerData } from 'node:worker_threads';
import { serveThreadJob } from '../../core/thread-job.js';
import { resourceFields } from '../../contracts/telemetry-event.js';
import { resourceColumns } from '../tables.js';
import { latestTimeMs, rollupKeySql } from './migrations.js';

/**
 * The thread half of startRollups: its own connection, writing the rollups file (main here) and
 * reading the raw samples of the telemetry file (attached as `raw`). Each catch-up is one write
 * transaction of the rollups file that reads the watermark, adds every sample after it to its
 * bucket's row, and moves the watermark: rollups and watermark commit together, so a crash
 * anywhere leaves them consistent, and two processes catching up take turns on the lock.
 */
const { file, rollupsFile } = workerData as { file: string; rollupsFile: string };
const db = new Database(rollupsFile, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
db.pragma('synchronous = NORMAL');
db.pragma('cache_size = -65536');
// The store's checkpointer thread copies this file's WAL back (and waits for its fsyncs), not this
// thread: its own autocheckpoint is only the safety net, should that one fall behind.
db.pragma('wal_autocheckpoint = 50000');
db.prepare('ATTACH DATABASE ? AS raw').run(file);

const cols = resourceFields.map((f) => resourceColumns[f]);
const merge = cols
  .map((c) => `${c}_n = ${c}_n + excluded.${c}_n, ${c}_sum = ${c}_sum + excluded.${c}_sum, ${c}_max = max(coalesce(${c}_max, excluded.${c}_max), coalesce(excluded.${c}_max, ${c}_max))`)
  .join(',\n     ');
const target = `INSERT INTO resource_rollups (key, ${cols.map((c) => `${c}_n, ${c}_sum, ${c}_max`).join(', ')})`;
const key = rollupKeySql('subject_id', 'time_ms', 'source');
// Times outside the key's span never reach the store (the edges refuse them); if one did, it
// would stay raw rather than land in another subject's rows.
const rows = `FROM raw.resource_samples WHERE id > ? AND id <= ? AND time_ms >= 0 AND time_ms < ${latestTimeMs}`;
// Two forms, same result:
// - one subject's series at a time (bulk import): one upsert per sample, in id order, which is
//   already key order; a GROUP BY would sort 50,000 rows to save nothing (about one sample per
//   bucket), and the sort cost more than the upserts;
// - samples of many subjects mixed (live data): GROUP BY, so each rollup row is updated once and
//   the rows are visited in key order, not all over the table (measured: 30% less CPU).
const perSample = db.prepare<[number, number]>(
  `${target}
   SELECT ${key}, ${cols.map((c) => `${c} IS NOT NULL, coalesce(${c}, 0), ${c}`).join(', ')}
   ${rows}
   ON CONFLICT (key) DO UPDATE SET
   ${merge}`,
);
const grouped = db.prepare<[number, number]>(
  `${target}
   SELECT ${key}, ${cols.map((c) => `count(${c}), total(${c}), max(${c})`).join(', ')}
   ${rows} GROUP BY 1
   ON CONFLICT (key) DO UPDATE SET
   ${merge}`,
);
const watermark = db.prepare<[], number>(`SELECT value FROM store_meta WHERE key = 'rollup_watermark'`).pluck();
const setWatermark = db.prepare<[number]>(`UPDATE store_meta SET value = ? WHERE key = 'rollup_watermark'`);
const maxSampleId = db.prepare<[], number | null>('SELECT max(id) FROM raw.resource_samples').pluck();

// BEGIN IMMEDIATE would take the write lock of every attached file, the telemetry file too, and
// stall its writer: the transaction is deferred, and its first statement is a write to the
// rollups file alone, so the lock taken (and waited for) is that one, before anything is read.
const lockRollups = db.prepare(`UPDATE store_meta SET value = value WHERE key = 'rollup_watermark'`);
const catchUp = db.transaction((mixed: boolean): void => {
  lockRollups.run();
  const from = watermark.get()!;
  const to = maxSampleId.get() ?? 0;
  if (to > from) {
    (mixed ? grouped : perSample).run(from, to);
    setWatermark.run(to);
  }
});

serveThreadJob<boolean>(
  (mixed) => catchUp.deferred(mixed),
  () => {
    // Copied back here, on this thread, rather than by the store's final checkpoint on its own.
    try {
      db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      /* busy: the store's close does it */
    }
    db.close();
  },
);
