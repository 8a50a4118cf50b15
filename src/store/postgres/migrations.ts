import type pg from 'pg';
import { rawTables, resourceColumnNames as cols } from '../tables.js';
import { inTransaction } from './transaction.js';

/**
 * The PostgreSQL schema, as an append-only list of migrations (store_migrations records which
 * ran). Never edit a released step: add one. The tables are sqlite/migrations.ts's, name for
 * name, with three differences that come from the engine, not from the data:
 * - rollups are one row per (subject, bucket, source) with a composite key, updated in the
 *   write's own transaction (SQLite packs them into a rowid and builds them on another thread,
 *   because one SQLite connection writes at a time; PostgreSQL has row locks instead);
 * - text that is sorted or compared is `COLLATE "C"`, SQLite's byte order, whatever the
 *   cluster's locale: both adapters list subjects and flows in the same order;
 * - sequence_events has an identity column for the order of insertion (SQLite's rowid).
 */
export const migrations: readonly string[] = [
  `
  CREATE TABLE subjects (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pseudonym text COLLATE "C" NOT NULL UNIQUE,
    kind text NOT NULL CHECK (kind IN ('user', 'client', 'vm')),
    category text COLLATE "C",
    first_ms bigint NOT NULL,
    last_ms bigint NOT NULL
  );
  CREATE INDEX subjects_category ON subjects (category);

  -- No index but the in-guest one (as SQLite): history is read from the rollups.
  CREATE TABLE resource_samples (
    subject_id bigint NOT NULL,
    source text NOT NULL,
    time_ms bigint NOT NULL,
    ${cols.map((c) => `${c} double precision`).join(',\n    ')}
  );
  CREATE INDEX resource_samples_agent ON resource_samples (subject_id, time_ms) WHERE source = 'agent';

  CREATE TABLE sequence_events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subject_id bigint NOT NULL,
    source text NOT NULL,
    time_ms bigint NOT NULL,
    seq bigint,
    kind text NOT NULL CHECK (kind IN ('launch', 'command')),
    name text COLLATE "C" NOT NULL,
    "user" text,
    session text,
    task text,
    outcome text COLLATE "C"
  );
  CREATE INDEX sequence_events_subject_time ON sequence_events (subject_id, time_ms, seq);

  CREATE TABLE network_flows (
    subject_id bigint NOT NULL,
    source text NOT NULL,
    time_ms bigint NOT NULL,
    direction text COLLATE "C" NOT NULL CHECK (direction IN ('in', 'out')),
    protocol text COLLATE "C" NOT NULL,
    port integer NOT NULL,
    remote text COLLATE "C" NOT NULL,
    bytes double precision NOT NULL,
    outcome text COLLATE "C"
  );
  CREATE INDEX network_flows_subject_time ON network_flows (subject_id, time_ms);

  CREATE TABLE data_accesses (
    subject_id bigint NOT NULL,
    source text NOT NULL,
    time_ms bigint NOT NULL,
    target text COLLATE "C" NOT NULL,
    op text COLLATE "C",
    bytes double precision NOT NULL
  );
  CREATE INDEX data_accesses_subject_time ON data_accesses (subject_id, time_ms);

  CREATE TABLE resource_rollups (
    subject_id bigint NOT NULL,
    bucket_ms bigint NOT NULL,
    source text NOT NULL,
    ${cols.map((c) => `${c}_n bigint NOT NULL DEFAULT 0, ${c}_sum double precision NOT NULL DEFAULT 0, ${c}_max double precision`).join(',\n    ')},
    PRIMARY KEY (subject_id, bucket_ms, source)
  );
  CREATE INDEX resource_rollups_bucket ON resource_rollups (bucket_ms);

  CREATE TABLE consent (
    pseudonym text COLLATE "C" PRIMARY KEY,
    granted_at_ms bigint NOT NULL
  );

  CREATE TABLE rejections (
    reason text COLLATE "C" NOT NULL,
    source text COLLATE "C" NOT NULL,
    count bigint NOT NULL,
    PRIMARY KEY (reason, source)
  );

  CREATE TABLE guest_images (
    subject_id bigint NOT NULL,
    image text COLLATE "C" NOT NULL,
    first_ms bigint NOT NULL,
    last_ms bigint NOT NULL,
    PRIMARY KEY (subject_id, image)
  );
  `,
  // 2: every event once, as SQLite's step 4 (../event-digest.ts); rows stored before it have no
  // digest (NULLs are distinct), so duplicates already stored stay.
  rawTables.map((t) => `ALTER TABLE ${t} ADD COLUMN digest bigint; CREATE UNIQUE INDEX ${t}_once ON ${t} (subject_id, time_ms, digest);`).join('\n'),
];

/** The advisory lock migrations take: any 64-bit number, the same for every Prescient store ("prescie"). */
const lockKey = String(0x70726573636965n);

/**
 * Runs the steps not yet run, each in its own transaction with the step's number recorded in
 * it (DDL is transactional here), under an advisory lock: two workers opening the same new
 * database at once run each step once, the second finding it done.
 */
export async function migrate(pool: pg.Pool, steps: readonly string[] = migrations): Promise<void> {
  for (let finished = false; !finished; ) {
    finished = await inTransaction(pool, async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [lockKey]);
      // Under the lock: two first opens racing on CREATE TABLE IF NOT EXISTS fail on the
      // catalog's keys (its row type's, or the table's), whichever comes first.
      await c.query('CREATE TABLE IF NOT EXISTS store_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
      const done = Number((await c.query<{ v: number | null }>('SELECT max(version) AS v FROM store_migrations')).rows[0]!.v ?? 0);
      if (done >= steps.length) return true;
      await c.query(steps[done]!);
      await c.query('INSERT INTO store_migrations (version) VALUES ($1)', [done + 1]);
      return false;
    });
  }
}
