import Database from 'better-sqlite3';
import { chmodSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { TelemetryStore } from '../store.js';
import { startCheckpointer } from './checkpointer.js';
import { consentedPseudonyms, grantConsent, hasConsent, revokeConsent } from './consent.js';
import { guestActivity, guestImages } from './guest.js';
import { dataAccesses, flows, sequence } from './history.js';
import { counts, prune } from './maintenance.js';
import { migrate, migrations, rollupMigrations } from './migrations.js';
import { countRejections, rejections } from './rejections.js';
import { createRollups } from './rollups.js';
import { createSubjects } from './subjects.js';
import { createWrites } from './writes.js';

export interface SqliteStoreOptions {
  file: string;
  /** NORMAL (default) survives a crash of the process; FULL also a crash of the machine. */
  synchronous?: 'NORMAL' | 'FULL';
}

/**
 * The embedded store: one SQLite file in WAL mode (and its rollups' file beside it), migrated on
 * open. Its parts are files by concern, the same names as postgres/'s: subjects, writes,
 * rollups, history, guest, consent, rejections, maintenance, migrations.
 */
export function openSqliteStore(options: SqliteStoreOptions): TelemetryStore {
  mkdirSync(dirname(options.file), { recursive: true });
  const db = new Database(options.file);
  chmodSync(options.file, 0o600); // pseudonymised, but still behavioural data
  // 8 KiB pages for a new file (an existing one keeps its own): half the pages to write, copy
  // back and sync per sample; the bulk import went 7 % faster than with 4 KiB.
  db.pragma('page_size = 8192');
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${options.synchronous ?? 'NORMAL'}`);
  // Deleted rows are overwritten, so a revoked subject's data does not linger in free pages.
  db.pragma('secure_delete = ON');
  db.pragma('busy_timeout = 5000');
  db.pragma('cache_size = -65536'); // 64 MiB: live ingest from many VMs touches many rollup pages
  // Checkpoint every ~40 MiB of WAL rather than 4: a page dirtied by many commits is copied back once.
  db.pragma('wal_autocheckpoint = 10000');
  const rollupsFile = rollupsFileOf(options.file);
  db.prepare('ATTACH DATABASE ? AS rollups').run(rollupsFile);
  chmodSync(rollupsFile, 0o600);
  db.pragma('rollups.page_size = 8192');
  db.pragma('rollups.journal_mode = WAL');
  db.pragma('rollups.secure_delete = ON');
  migrate(db, 'rollups', rollupMigrations);
  migrate(db, 'main', migrations);
  const checkpointer = startCheckpointer([options.file, rollupsFile]);
  const subjects = createSubjects(db);
  const rollups = createRollups({ db, file: options.file, rollupsFile, subjects });
  const writes = createWrites({ db, subjects, rollups, checkpointer });
  /** Reads of one subject: nothing when the pseudonym is unknown. */
  const ofSubject = <T>(subject: string, none: T, read: (id: number) => T): T => {
    const id = subjects.idOf(subject);
    return id === undefined ? none : read(id);
  };

  const store: TelemetryStore = {
    write: writes.write,
    writeResourceColumns: writes.writeResourceColumns,
    async listSubjects(filter = {}) {
      subjects.written();
      return subjects.list(filter);
    },
    async subject(pseudonym) {
      subjects.written();
      return subjects.one(pseudonym);
    },
    async rollups(subject, r) {
      await rollups.caughtUp();
      await writes.idle();
      return ofSubject(subject, [], (id) => rollups.read(id, r));
    },
    sequence: async (subject, o = {}) => ofSubject(subject, [], (id) => sequence(db, id, o)),
    flows: async (subject, r) => ofSubject(subject, [], (id) => flows(db, id, r)),
    dataAccesses: async (subject, r) => ofSubject(subject, [], (id) => dataAccesses(db, id, r)),
    guestImages: async (subject) => ofSubject(subject, [], (id) => guestImages(db, id)),
    guestActivity: async (subject, r) => ofSubject(subject, { samples: [], programs: [], flows: [], accesses: [] }, (id) => guestActivity(db, id, r)),
    grantConsent: async (pseudonyms, atMs) => grantConsent(db, pseudonyms, atMs),
    revokeConsent: (pseudonyms) => revokeConsent({ db, subjects, rollups }, pseudonyms),
    consentedPseudonyms: async () => consentedPseudonyms(db),
    hasConsent: async (pseudonyms) => hasConsent(db, pseudonyms),
    countRejections: async (c) => countRejections(db, c),
    rejections: async () => rejections(db),
    async prune(policy) {
      await rollups.caughtUp(); // raw samples not yet rolled up must reach their rollups before they go
      await writes.idle();
      return prune(db, policy);
    },
    async counts() {
      await rollups.caughtUp();
      await writes.idle();
      return counts(db);
    },
    async ping() {
      db.prepare('SELECT 1').get();
    },
    async close() {
      writes.flush();
      await writes.idle();
      // The last rollups (rollup thread) and the copy of the store's WAL back into its file
      // (checkpointer thread) run side by side; the final checkpoint below then has little left.
      if (writes.checkpointing()) await Promise.all([rollups.caughtUp(), checkpointer.request()]);
      else await rollups.caughtUp();
      await rollups.close();
      await checkpointer.close();
      if (db.open) {
        db.pragma('wal_checkpoint(TRUNCATE)');
        db.close();
      }
    },
  };
  // Everything but the writes waits while a large write's transaction is open (writes.idle).
  const methods = store as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const [name, method] of Object.entries(methods)) {
    // ping reads nothing: /readyz must not report a store busy with a large write as down.
    if (name === 'write' || name === 'writeResourceColumns' || name === 'ping') continue;
    methods[name] = async (...args) => {
      await writes.idle();
      return method(...args);
    };
  }
  return store;
}

/** `prescient.db` → `prescient-rollups.db`: the file the rollups live in, beside the store. */
export function rollupsFileOf(file: string): string {
  const dot = file.lastIndexOf('.');
  return dot > file.lastIndexOf('/') ? `${file.slice(0, dot)}-rollups${file.slice(dot)}` : `${file}-rollups`;
}
