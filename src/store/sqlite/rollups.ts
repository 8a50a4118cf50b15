import type Database from 'better-sqlite3';
import type { ResourceRollup, TimeRange } from '../store.js';
import { resourceColumnNames as cols, rollupOfRow } from '../tables.js';
import { timeBounds } from '../time-range.js';
import { rollupKeyRange, rollupSourceBits } from './migrations.js';
import { startRollupThread } from './rollup-thread.js';
import type { Subjects } from './subjects.js';

/**
 * Rollups are built from raw samples by SQL on their own thread (rollup-thread.ts): every
 * sample committed since the watermark is added to its bucket's row. It runs once per ~50,000
 * samples (or a second), not per commit: live data from many VMs updates rollup rows all over
 * the table, and a page dirtied by many commits would be written to the WAL by each. Every
 * read of rollups catches up first, so none sees a lag.
 */
export interface Rollups {
  /** Samples a write of this process added (not yet committed); `mixed`: of many subjects. */
  added(samples: number, mixed: boolean): void;
  /** After a commit: a catch-up soon (a full batch at once, else within a second). */
  committed(): void;
  /** Subjects' spans written, and every committed sample (of any process) in the rollups. */
  caughtUp(): Promise<void>;
  read(subjectId: number, range: TimeRange | undefined): ResourceRollup[];
  close(): Promise<void>;
}

const rollUpEvery = 50_000;

export function createRollups(options: { db: Database.Database; file: string; rollupsFile: string; subjects: Subjects }): Rollups {
  const { db, subjects } = options;
  const thread = startRollupThread(options.file, options.rollupsFile);
  const watermark = db.prepare<[], number>(`SELECT value FROM rollups.store_meta WHERE key = 'rollup_watermark'`).pluck();
  const maxSampleId = db.prepare<[], number | null>('SELECT max(id) FROM main.resource_samples').pluck();
  /** Samples this process wrote since it last asked for a catch-up (other writers ask for theirs). */
  let pendingSamples = 0;
  /** Whether some came in batches of many subjects (live data) rather than one subject's series. */
  let pendingMixed = false;
  let catchUpTimer: NodeJS.Timeout | undefined;
  const request = (): Promise<void> => {
    if (catchUpTimer) clearTimeout(catchUpTimer);
    catchUpTimer = undefined;
    const mixed = pendingMixed;
    pendingSamples = 0;
    pendingMixed = false;
    return thread.catchUp(mixed);
  };
  /** From a timer or a full batch: a failure (a busy file) just means "try again in a second". */
  const rollUpSoon = (): void => {
    try {
      subjects.written();
    } catch {
      /* busy: they are written with the next */
    }
    request().catch(() => {
      catchUpTimer ??= setTimeout(rollUpSoon, 1000).unref();
    });
  };
  const select = db.prepare(
    `SELECT bucket_ms, ${cols.map((c) => `sum(${c}_n) AS ${c}_n, sum(${c}_sum) AS ${c}_sum, max(${c}_max) AS ${c}_max`).join(', ')}
     FROM rollups.resource_rollups WHERE key >= ? AND key < ? GROUP BY key >> ${rollupSourceBits} ORDER BY key >> ${rollupSourceBits}`,
  );
  return {
    added(samples, mixed) {
      pendingSamples += samples;
      if (mixed) pendingMixed = true;
    },
    committed() {
      // Committed: the rollup thread may read them. Live ingest: rollups follow within a second
      // even when little arrives.
      if (pendingSamples >= rollUpEvery) rollUpSoon();
      else if (pendingSamples > 0 && catchUpTimer === undefined) catchUpTimer = setTimeout(rollUpSoon, 1000).unref();
    },
    async caughtUp() {
      if (!db.open) return;
      subjects.written();
      if (watermark.get()! < (maxSampleId.get() ?? 0)) await request();
    },
    read(subjectId, r) {
      const rows = select.all(...rollupKeyRange(subjectId, ...timeBounds(r))) as Record<string, number | null>[];
      return rows.map(rollupOfRow);
    },
    close: () => thread.close(),
  };
}
