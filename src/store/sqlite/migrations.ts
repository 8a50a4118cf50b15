import { resourceFields, type ResourceField } from '../../telemetry/event.js';

/**
 * The whole SQLite schema, as an append-only list of migrations (PRAGMA user_version counts how
 * many ran). Never edit a released step: add one. A PostgreSQL adapter keeps the same tables.
 *
 * Raw resource samples have no index: history is read from the rollups, and the raw rows are
 * only scanned by retention and consent withdrawal, which are rare; an index would halve the
 * bulk import rate. Raw events live in one table per kind, keyed by a small integer subject id (pseudonyms are
 * long and repeated millions of times). Rollups are one wide row per subject, source and
 * 5-minute bucket, with count, sum and max per resource; the source is part of the key so that
 * a consent withdrawal can delete exactly the in-guest share. Rollups are derived from
 * resource_samples in bulk (store_meta.rollup_watermark = the last sample id rolled up).
 */
export const resourceColumns: Record<ResourceField, string> = {
  cpuCores: 'cpu_cores',
  cpuPercent: 'cpu_percent',
  memoryBytes: 'memory_bytes',
  memoryTotalBytes: 'memory_total_bytes',
  diskReadBps: 'disk_read_bps',
  diskWriteBps: 'disk_write_bps',
  netInBps: 'net_in_bps',
  netOutBps: 'net_out_bps',
};

const cols = resourceFields.map((f) => resourceColumns[f]);

export const rawTables = ['resource_samples', 'sequence_events', 'network_flows', 'data_accesses'] as const;

export const migrations: readonly string[] = [
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
];
