import type Database from 'better-sqlite3';
import { latestEventTimeMs, type EventSource } from '../../contracts/telemetry-event.js';
import { rollupBucketMs } from '../store.js';
import { rawTables, resourceColumnNames as cols } from '../tables.js';

/**
 * The whole SQLite schema, as an append-only list of migrations (PRAGMA user_version counts how
 * many ran). Never edit a released step: add one. postgres/migrations.ts keeps the same tables (their shared names: ../tables.ts).
 *
 * Raw resource samples have no index for reading: history is read from the rollups, and the raw
 * rows are only scanned by retention and consent withdrawal, which are rare. Their one index
 * (step 4, as on every raw table) is the unique one that stores each event once
 * (../event-digest.ts). It is in (subject, time) order: a bulk import writes one subject's file
 * at a time, in time order, so its rows land at the end of one key range (the Bitbrains import
 * kept its 300,000 samples/s; in (time, subject) order it fell to 170,000), at the price of the
 * live path, whose batches touch many subjects' ranges at once (200 VMs: 236,000 → 131,000
 * events/s, bench/ingest-postgres.ts). Raw events live in one table per kind, keyed by a small integer subject id (pseudonyms are
 * long and repeated millions of times). Rollups are one wide row per subject, source and
 * 5-minute bucket, with count, sum and max per resource; the source is part of the key so that
 * a consent withdrawal can delete exactly the in-guest share. Rollups are derived from
 * resource_samples in bulk (store_meta.rollup_watermark = the last sample id rolled up), on
 * their own thread into their own file (`rollupMigrations`; see rollup-thread.ts for why).
 *
 * A step is one transaction, or several run in order (a step that moves rows between the two
 * files copies first and deletes after, each file's commit being atomic only on its own).
 */
export type Migration = string | readonly string[];

/**
 * A rollup row's key is one integer, (subject id << 30) | (5-minute bucket << 2) | source code,
 * so that the table is SQLite's rowid B-tree itself: a WITHOUT ROWID table keeps whole rows in
 * its interior pages too, and with 27 columns that made every insert a third slower (measured:
 * 3.0 s → 2.45 s for the Bitbrains month). 28 bits of bucket reach the year 4521 (later times are
 * refused at the edges, see latestTimeMs); 33 bits of subject id, 8 billion subjects. A
 * subject's rows are one key range, in time order. Never renumber a source.
 */
export const rollupSourceCodes: Record<EventSource, number> = { hypervisor: 0, 'app-log': 1, agent: 2 };
export const rollupBucketBits = 28;
export const rollupSourceBits = 2;
const keyShift = rollupBucketBits + rollupSourceBits;
/** SQL for the key of a sample's rollup row. */
export function rollupKeySql(subjectId: string, timeMs: string, source: string): string {
  const code = Object.entries(rollupSourceCodes).map(([name, c]) => `WHEN '${name}' THEN ${c}`).join(' ');
  return `((${subjectId} << ${keyShift}) | ((CAST(${timeMs} AS INTEGER) / ${rollupBucketMs}) << ${rollupSourceBits}) | CASE ${source} ${code} ELSE 3 END)`;
}
/** Bounds of the keys of one subject's rollups in [fromBucket, toBucket) (bucket numbers, clamped). */
export function rollupKeyRange(subjectId: number, fromMs: number, toMs: number): [bigint, bigint] {
  const bucket = (ms: number): bigint => BigInt(Math.min(2 ** rollupBucketBits, Math.max(0, Math.ceil(ms / rollupBucketMs))));
  const base = BigInt(subjectId) << BigInt(keyShift);
  return [base | (bucket(fromMs) << BigInt(rollupSourceBits)), base + (bucket(toMs) << BigInt(rollupSourceBits))];
}
/** Samples at or after this time have no rollup key: the edges refuse them (latestEventTimeMs). */
export const latestTimeMs = 2 ** rollupBucketBits * rollupBucketMs;
if (latestEventTimeMs > latestTimeMs) throw new Error('latestEventTimeMs is past what a rollup key can hold');

/** The rollups file, attached to the store's connection as `rollups`. */
export const rollupMigrations: readonly Migration[] = [
  `
  CREATE TABLE rollups.resource_rollups (
    key INTEGER PRIMARY KEY, -- rollupKeySql
    ${cols.map((c) => `${c}_n INTEGER NOT NULL DEFAULT 0, ${c}_sum REAL NOT NULL DEFAULT 0, ${c}_max REAL`).join(',\n    ')},
    -- The key's parts, for reading by hand and for rare whole-table deletes (retention).
    subject_id INTEGER GENERATED ALWAYS AS (key >> ${keyShift}) VIRTUAL,
    bucket_ms INTEGER GENERATED ALWAYS AS (((key >> ${rollupSourceBits}) & ${2 ** rollupBucketBits - 1}) * ${rollupBucketMs}) VIRTUAL,
    source TEXT GENERATED ALWAYS AS (CASE key & ${2 ** rollupSourceBits - 1} ${Object.entries(rollupSourceCodes).map(([name, c]) => `WHEN ${c} THEN '${name}'`).join(' ')} END) VIRTUAL
  );

  CREATE TABLE rollups.store_meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
  ) WITHOUT ROWID;
  INSERT INTO rollups.store_meta (key, value) VALUES ('rollup_watermark', 0);
  `,
];

/** The store's file (`main`); runs after rollupMigrations, with the rollups file attached. */
export const migrations: readonly Migration[] = [
  `
  CREATE TABLE subjects (
    id INTEGER PRIMARY KEY,
    pseudonym TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('user', 'client', 'vm')),
    category TEXT,
    first_ms INTEGER NOT NULL,
    last_ms INTEGER NOT NULL
  );
  CREATE INDEX subjects_category ON subjects (category);

  CREATE TABLE resource_samples (
    id INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused, so the rollup watermark never skips a row
    subject_id INTEGER NOT NULL,
    source TEXT NOT NULL,
    time_ms INTEGER NOT NULL,
    ${cols.map((c) => `${c} REAL`).join(',\n    ')}
  );

  CREATE TABLE sequence_events (
    subject_id INTEGER NOT NULL,
    source TEXT NOT NULL,
    time_ms INTEGER NOT NULL,
    seq INTEGER,
    kind TEXT NOT NULL CHECK (kind IN ('launch', 'command')),
    name TEXT NOT NULL,
    user TEXT,
    session TEXT,
    task TEXT
  );
  CREATE INDEX sequence_events_subject_time ON sequence_events (subject_id, time_ms, seq);

  CREATE TABLE network_flows (
    subject_id INTEGER NOT NULL,
    source TEXT NOT NULL,
    time_ms INTEGER NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    protocol TEXT NOT NULL,
    port INTEGER NOT NULL,
    remote TEXT NOT NULL,
    bytes REAL NOT NULL
  );
  CREATE INDEX network_flows_subject_time ON network_flows (subject_id, time_ms);

  CREATE TABLE data_accesses (
    subject_id INTEGER NOT NULL,
    source TEXT NOT NULL,
    time_ms INTEGER NOT NULL,
    target TEXT NOT NULL,
    op TEXT,
    bytes REAL NOT NULL
  );
  CREATE INDEX data_accesses_subject_time ON data_accesses (subject_id, time_ms);

  CREATE TABLE resource_rollups (
    subject_id INTEGER NOT NULL,
    source TEXT NOT NULL,
    bucket_ms INTEGER NOT NULL,
    ${cols.map((c) => `${c}_n INTEGER NOT NULL DEFAULT 0, ${c}_sum REAL NOT NULL DEFAULT 0, ${c}_max REAL`).join(',\n    ')},
    PRIMARY KEY (subject_id, bucket_ms, source)
  ) WITHOUT ROWID;

  CREATE TABLE store_meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
  ) WITHOUT ROWID;
  INSERT INTO store_meta (key, value) VALUES ('rollup_watermark', 0);

  CREATE TABLE consent (
    pseudonym TEXT PRIMARY KEY,
    granted_at_ms INTEGER NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE rejections (
    reason TEXT NOT NULL,
    source TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (reason, source)
  ) WITHOUT ROWID;
  `,
  // 2: rollups move to their own file (rows and watermark copied first; idempotent if re-run).
  [
    `INSERT INTO rollups.resource_rollups (key, ${cols.map((c) => `${c}_n, ${c}_sum, ${c}_max`).join(', ')})
     SELECT ${rollupKeySql('subject_id', 'bucket_ms', 'source')}, ${cols.map((c) => `${c}_n, ${c}_sum, ${c}_max`).join(', ')}
     FROM main.resource_rollups WHERE bucket_ms >= 0 AND bucket_ms < ${latestTimeMs} ON CONFLICT DO NOTHING;
     UPDATE rollups.store_meta SET value = max(value, (SELECT value FROM main.store_meta WHERE key = 'rollup_watermark'))
       WHERE key = 'rollup_watermark';`,
    `DROP TABLE main.resource_rollups;
     DELETE FROM main.store_meta WHERE key = 'rollup_watermark';`,
  ],
  // 3: in-guest agents. What became of a command or a connection (event.ts outcomes); the image
  // versions each subject's agents reported from, with when (accuracy scores a version over the
  // in-guest data of its span); and an index over in-guest samples only, so that scoring reads a
  // client's minutes without scanning the bulk imports (which the partial index never touches).
  `
  ALTER TABLE sequence_events ADD COLUMN outcome TEXT;
  ALTER TABLE network_flows ADD COLUMN outcome TEXT;
  CREATE INDEX resource_samples_agent ON resource_samples (subject_id, time_ms) WHERE source = 'agent';
  CREATE TABLE guest_images (
    subject_id INTEGER NOT NULL,
    image TEXT NOT NULL,
    first_ms INTEGER NOT NULL,
    last_ms INTEGER NOT NULL,
    PRIMARY KEY (subject_id, image)
  ) WITHOUT ROWID;
  `,
  // 4: every event once (../event-digest.ts): a digest of what a row says, unique per subject and
  // millisecond, so that an ingest run again skips what it stored. Rows stored before this step
  // have no digest (NULLs are distinct to a unique index): duplicates already stored stay, and an
  // event stored before can be stored once more; only events written from now on are kept once.
  rawTables.map((t) => `ALTER TABLE ${t} ADD COLUMN digest INTEGER; CREATE UNIQUE INDEX ${t}_once ON ${t} (subject_id, time_ms, digest);`).join('\n'),
];

/** Runs the steps of `schema` not yet run (its PRAGMA user_version counts them). */
export function migrate(db: Database.Database, schema: 'main' | 'rollups', steps: readonly Migration[]): void {
  const current = db.pragma(`${schema}.user_version`, { simple: true }) as number;
  for (let v = current; v < steps.length; v++) {
    const step = steps[v]!;
    const parts = typeof step === 'string' ? [step] : step;
    parts.forEach((sql, i) =>
      db.transaction(() => {
        db.exec(sql);
        if (i === parts.length - 1) db.pragma(`${schema}.user_version = ${v + 1}`);
      })(),
    );
  }
}
