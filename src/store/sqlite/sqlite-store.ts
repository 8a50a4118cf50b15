import Database from 'better-sqlite3';
import { chmodSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AnonymisedEvent } from '../../contracts/anonymised-event.js';
import type { AnonymisedResourceColumns } from '../../contracts/resource-columns.js';
import { eventSources, resourceFields, type EventKind, type EventSource, type ResourceField, type SubjectKind } from '../../contracts/telemetry-event.js';
import {
  type ConsentRecord,
  type DataAccessSummary,
  type FlowSummary,
  type GuestActivity,
  type GuestImageSpan,
  type RejectionCount,
  type ResourceRollup,
  type SequenceItem,
  type StoreCounts,
  type SubjectInfo,
  type TelemetryStore,
  type TimeRange,
  type WriteResult,
} from '../store.js';
import { startCheckpointer } from './checkpointer.js';
import { rawTables, resourceColumns } from '../tables.js';
import { migrations, rollupKeyRange, rollupMigrations, rollupSourceBits, rollupSourceCodes, type Migration } from './migrations.js';
import { startRollupThread } from './rollup-thread.js';

export interface SqliteStoreOptions {
  file: string;
  /** NORMAL (default) survives a crash of the process; FULL also a crash of the machine. */
  synchronous?: 'NORMAL' | 'FULL';
}

const cols = resourceFields.map((f) => resourceColumns[f]);
const R = resourceFields.length;
if (resourceFields.join() !== 'cpuCores,cpuPercent,memoryBytes,memoryTotalBytes,diskReadBps,diskWriteBps,netInBps,netOutBps') {
  throw new Error('resourceFields changed: update the named reads in the sqlite write path');
}

/** The embedded store: one SQLite file in WAL mode, migrated on open. */
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
  const rollupThread = startRollupThread(options.file, rollupsFile);
  /** Rows written since the last checkpoint request (raw samples count twice: rollups). */
  let unCheckpointed = 0;
  /** Whether the checkpointer thread was ever asked (small stores never start it). */
  let checkpointing = false;

  // Subjects this process has written, with the span and category it knows of. A batch that
  // widens them only marks the row dirty; the rows are updated when rollups catch up (the same
  // moments, the same reads wait for it): live data from 200 VMs would otherwise rewrite 200
  // subject rows per request.
  interface KnownSubject {
    id: number;
    first: number;
    last: number;
    category: string | null;
  }
  const known = new Map<string, KnownSubject>();
  const dirtySubjects = new Set<KnownSubject>();
  const updateSubject = db.prepare<[number, number, string | null, number]>(
    'UPDATE subjects SET first_ms = min(first_ms, ?), last_ms = max(last_ms, ?), category = coalesce(?, category) WHERE id = ?',
  );
  const subjectId = (pseudonym: string, kind: SubjectKind, category: string | null, first: number, last: number): number => {
    const k = known.get(pseudonym);
    if (k === undefined) {
      const id = (upsertSubject.get(pseudonym, kind, category, first, last) as { id: number }).id;
      known.set(pseudonym, { id, first, last, category });
      return id;
    }
    let changed = false;
    if (first < k.first) (k.first = first), (changed = true);
    if (last > k.last) (k.last = last), (changed = true);
    if (category !== null && category !== k.category) (k.category = category), (changed = true);
    if (changed) dirtySubjects.add(k);
    return k.id;
  };
  const flushSubjects = (): void => {
    for (const k of dirtySubjects) updateSubject.run(k.first, k.last, k.category, k.id);
    dirtySubjects.clear();
  };
  // Another process (`prescient consent revoke`) may have deleted a subject row: what we know is
  // only trusted while nobody else has committed since our last transaction.
  const dataVersion = db.prepare<[], number>('PRAGMA data_version').pluck();
  let seenVersion = dataVersion.get()!;
  const checkOthers = (): void => {
    const v = dataVersion.get()!;
    if (v === seenVersion) return;
    seenVersion = v;
    flushSubjects();
    known.clear();
  };
  const upsertSubject = db.prepare<[string, string, string | null, number, number]>(
    `INSERT INTO subjects (pseudonym, kind, category, first_ms, last_ms) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (pseudonym) DO UPDATE SET
       category = coalesce(excluded.category, category),
       first_ms = min(first_ms, excluded.first_ms),
       last_ms = max(last_ms, excluded.last_ms)
     RETURNING id`,
  );
  // Many rows per statement: each call into SQLite costs about as much as the row itself, and
  // binding a value costs more than storing it, so column batches (one source each) get the
  // source as a literal rather than a parameter per row.
  const sampleChunk = 64;
  const sampleRow = (source: string) => `(?, ${source}, ?, ${cols.map(() => '?').join(', ')})`;
  const insertSamples = (rows: number, source = '?') =>
    db.prepare(`INSERT INTO resource_samples (subject_id, source, time_ms, ${cols.join(', ')}) VALUES ${Array(rows).fill(sampleRow(source)).join(', ')}`);
  const insertSampleChunk = insertSamples(sampleChunk);
  const insertSample = insertSamples(1);
  const perSource = new Map(eventSources.map((src) => [src, { chunk: insertSamples(sampleChunk, `'${src}'`), one: insertSamples(1, `'${src}'`) }]));
  const insertSequence = db.prepare(
    'INSERT INTO sequence_events (subject_id, source, time_ms, seq, kind, name, user, session, task, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const insertFlow = db.prepare(
    'INSERT INTO network_flows (subject_id, source, time_ms, direction, protocol, port, remote, bytes, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const upsertGuestImage = db.prepare<[number, string, number, number]>(
    `INSERT INTO guest_images (subject_id, image, first_ms, last_ms) VALUES (?, ?, ?, ?)
     ON CONFLICT (subject_id, image) DO UPDATE SET first_ms = min(first_ms, excluded.first_ms), last_ms = max(last_ms, excluded.last_ms)`,
  );
  /** Spans of (subject id, image) seen in one write, upserted once per write. */
  const imageSpans = (): { add(sid: number, image: string, first: number, last: number): void; write(): void } => {
    const spans = new Map<string, { sid: number; image: string; first: number; last: number }>();
    return {
      add(sid, image, first, last) {
        const k = `${sid}\0${image}`;
        const s = spans.get(k);
        if (!s) spans.set(k, { sid, image, first, last });
        else (s.first = Math.min(s.first, first)), (s.last = Math.max(s.last, last));
      },
      write: () => spans.forEach((s) => upsertGuestImage.run(s.sid, s.image, s.first, s.last)),
    };
  };
  const insertAccess = db.prepare('INSERT INTO data_accesses (subject_id, source, time_ms, target, op, bytes) VALUES (?, ?, ?, ?, ?, ?)');

  // Rollups are built from raw samples by SQL on their own thread (rollup-thread.ts): every
  // sample committed since the watermark is added to its bucket's row. It runs once per ~50,000
  // samples (or a second), not per commit: live data from many VMs updates rollup rows all over
  // the table, and a page dirtied by many commits would be written to the WAL by each. Every
  // read of rollups catches up first, so none sees a lag.
  const watermark = db.prepare<[], number>(`SELECT value FROM rollups.store_meta WHERE key = 'rollup_watermark'`).pluck();
  const maxSampleId = db.prepare<[], number | null>('SELECT max(id) FROM main.resource_samples').pluck();
  /** Samples this process wrote since it last asked for a catch-up (other writers ask for theirs). */
  let pendingSamples = 0;
  /** Whether some came in batches of many subjects (live data) rather than one subject's series. */
  let pendingMixed = false;
  const rollUpEvery = 50_000;
  let catchUpTimer: NodeJS.Timeout | undefined;
  const requestRollups = (): Promise<void> => {
    if (catchUpTimer) clearTimeout(catchUpTimer);
    catchUpTimer = undefined;
    const mixed = pendingMixed;
    pendingSamples = 0;
    pendingMixed = false;
    return rollupThread.catchUp(mixed);
  };
  const subjectsWritten = (): void => {
    if (dirtySubjects.size > 0 && db.open) db.transaction(flushSubjects).deferred();
  };
  /** From a timer or a full batch: a failure (a busy file) just means "try again in a second". */
  const rollUpSoon = (): void => {
    try {
      subjectsWritten();
    } catch {
      /* busy: they are written with the next */
    }
    requestRollups().catch(() => {
      catchUpTimer ??= setTimeout(rollUpSoon, 1000).unref();
    });
  };
  /** Subjects' spans written, and every committed sample (of any process) in the rollups. */
  const caughtUp = async (): Promise<void> => {
    if (!db.open) return;
    subjectsWritten();
    if (watermark.get()! < (maxSampleId.get() ?? 0)) await requestRollups();
  };

  interface SubjectAcc {
    kind: SubjectKind;
    category: string | null;
    first: number;
    last: number;
  }

  const hasConsent = db.prepare<[string], { one: number }>('SELECT 1 AS one FROM consent WHERE pseudonym = ?');
  const consents = (subject: string, aliases: readonly string[] | undefined): boolean =>
    hasConsent.get(subject) !== undefined || (aliases ?? []).some((p) => hasConsent.get(p) !== undefined);

  const writeEvents = (all: readonly AnonymisedEvent[]): WriteResult => {
    const refused: number[] = [];
    const consent = new Map<string, boolean>();
    const events: AnonymisedEvent[] = [];
    all.forEach((e, i) => {
      if (e.source === 'agent') {
        let ok = consent.get(e.subject);
        if (ok === undefined) consent.set(e.subject, (ok = consents(e.subject, e.aliases)));
        if (!ok) return void refused.push(i);
      }
      events.push(e);
    });
    const subjects = new Map<string, SubjectAcc>();
    for (const e of events) {
      const s = subjects.get(e.subject);
      if (!s) subjects.set(e.subject, { kind: e.subjectKind, category: e.category ?? null, first: e.time, last: e.time });
      else {
        if (e.time < s.first) s.first = e.time;
        if (e.time > s.last) s.last = e.time;
        if (e.category !== undefined) s.category = e.category;
      }
    }
    const subjectIds = new Map<string, number>();
    for (const [pseudonym, s] of subjects) subjectIds.set(pseudonym, subjectId(pseudonym, s.kind, s.category, s.first, s.last));
    const chunk: (number | string | null)[] = [];
    const values: (number | undefined)[] = new Array(R);
    let chunkRows = 0;
    const spans = imageSpans();
    for (const e of events) {
      const sid = subjectIds.get(e.subject)!;
      if (e.image !== undefined && e.source === 'agent') spans.add(sid, e.image, e.time, e.time);
      switch (e.kind) {
        case 'resource': {
          pendingSamples++;
          pendingMixed = true;
          chunk.push(sid, e.source, e.time);
          // Named reads (in resourceFields order), not e[field]: keyed reads are the slow kind.
          values[0] = e.cpuCores;
          values[1] = e.cpuPercent;
          values[2] = e.memoryBytes;
          values[3] = e.memoryTotalBytes;
          values[4] = e.diskReadBps;
          values[5] = e.diskWriteBps;
          values[6] = e.netInBps;
          values[7] = e.netOutBps;
          for (let i = 0; i < R; i++) chunk.push(values[i] ?? null);
          if (++chunkRows === sampleChunk) {
            insertSampleChunk.run(chunk);
            chunk.length = 0;
            chunkRows = 0;
          }
          break;
        }
        case 'launch':
          insertSequence.run(sid, e.source, e.time, null, 'launch', e.executable, e.user ?? null, e.session ?? null, null, null);
          break;
        case 'command':
          insertSequence.run(sid, e.source, e.time, e.seq ?? null, 'command', e.program, null, e.session ?? null, e.task ?? null, e.outcome ?? null);
          break;
        case 'flow':
          insertFlow.run(sid, e.source, e.time, e.direction, e.protocol, e.port, e.remote, e.bytes, e.outcome ?? null);
          break;
        case 'access':
          insertAccess.run(sid, e.source, e.time, e.target, e.op ?? null, e.bytes);
          break;
      }
    }
    for (let i = 0; i < chunkRows; i++) insertSample.run(chunk.slice(i * (3 + R), (i + 1) * (3 + R)));
    spans.write();
    return { written: events.length, refused };
  };

  const writeColumns = (b: AnonymisedResourceColumns): WriteResult => {
    if (b.rows === 0) return { written: 0, refused: [] };
    const { time, values, subjectOf } = b;
    const S = b.subjects.length;
    // Per subject: consent, then time span of its rows and its id (-1: refused).
    const sids = new Float64Array(S).fill(-1);
    const first = new Float64Array(S).fill(Number.POSITIVE_INFINITY);
    const last = new Float64Array(S).fill(Number.NEGATIVE_INFINITY);
    for (let i = 0; i < b.rows; i++) {
      const s = subjectOf === undefined ? 0 : subjectOf[i]!;
      const t = time[i]!;
      if (t < first[s]!) first[s] = t;
      if (t > last[s]!) last[s] = t;
    }
    b.subjects.forEach((s, k) => {
      if (first[k] === Number.POSITIVE_INFINITY) return; // no row
      if (b.source === 'agent' && !consents(s.subject, s.aliases)) return;
      sids[k] = subjectId(s.subject, s.subjectKind, s.category ?? null, first[k]!, last[k]!);
      if (s.image !== undefined && b.source === 'agent') upsertGuestImage.run(sids[k]!, s.image, first[k]!, last[k]!);
    });
    const refused: number[] = [];
    const stmt = perSource.get(b.source)!;
    const width = 2 + R;
    const chunk: (number | null)[] = new Array(sampleChunk * width);
    const one: (number | null)[] = new Array(width);
    let inChunk = 0;
    for (let row = 0; row < b.rows; row++) {
      const sid = sids[subjectOf === undefined ? 0 : subjectOf[row]!]!;
      if (sid < 0) {
        refused.push(row);
        continue;
      }
      let at = inChunk * width;
      chunk[at++] = sid;
      chunk[at++] = time[row]!;
      for (let v = row * R, end = v + R; v < end; v++) {
        const x = values[v]!;
        chunk[at++] = x === x ? x : null; // NaN: the field was absent
      }
      if (++inChunk === sampleChunk) {
        stmt.chunk.run(chunk);
        inChunk = 0;
      }
    }
    for (let k = 0; k < inChunk; k++) {
      for (let j = 0; j < width; j++) one[j] = chunk[k * width + j]!;
      stmt.one.run(one);
    }
    return { written: b.rows - refused.length, refused };
  };

  interface Pending {
    events?: readonly AnonymisedEvent[];
    columns?: AnonymisedResourceColumns;
    resolve: (r: WriteResult) => void;
    reject: (e: unknown) => void;
  }
  // BEGIN IMMEDIATE would lock every attached file, the rollups too, and stall the rollup thread
  // for the whole write: transactions are deferred, and one that reads before it writes starts
  // with a write that changes nothing, so that it waits for the store's lock (busy_timeout)
  // before reading, never fails to upgrade a read later (SQLITE_BUSY_SNAPSHOT).
  const lockStore = db.prepare('DELETE FROM main.store_meta WHERE 0');
  /** One transaction for a group of writes; results per write, in order. */
  const writeTx = db.transaction((group: readonly Pending[]): WriteResult[] => {
    lockStore.run();
    checkOthers();
    const results: WriteResult[] = [];
    const events = group.filter((p) => p.events !== undefined);
    if (events.length > 0) {
      const all = events.length === 1 ? events[0]!.events! : events.flatMap((p) => p.events!);
      const r = writeEvents(all);
      let offset = 0;
      for (const p of events) {
        const end = offset + p.events!.length;
        const refused = r.refused.filter((i) => i >= offset && i < end).map((i) => i - offset);
        results[group.indexOf(p)] = { written: p.events!.length - refused.length, refused };
        offset = end;
      }
    }
    group.forEach((p, i) => {
      if (p.columns !== undefined) {
        results[i] = writeColumns(p.columns);
        pendingSamples += results[i]!.written;
        if (p.columns.subjects.length > 1) pendingMixed = true;
      }
    });
    return results;
  });

  let queue: Pending[] = [];
  const flush = (): void => {
    const group = queue;
    queue = [];
    if (!db.open) {
      for (const p of group) p.reject(new Error('the telemetry store is closed'));
      return;
    }
    try {
      const results = writeTx.deferred(group);
      // Committed: the rollup thread may read them. Live ingest: rollups follow within a second
      // even when little arrives.
      if (pendingSamples >= rollUpEvery) rollUpSoon();
      else if (pendingSamples > 0 && catchUpTimer === undefined) catchUpTimer = setTimeout(rollUpSoon, 1000).unref();
      for (const r of results) unCheckpointed += r.written;
      if (unCheckpointed >= 20_000) {
        unCheckpointed = 0;
        checkpointing = true;
        void checkpointer.request();
      }
      group.forEach((p, i) => p.resolve(results[i]!));
    } catch (e) {
      for (const p of group) p.reject(e);
    }
  };
  // Group commit: writes made in the same turn of the event loop (concurrent HTTP requests)
  // share one transaction, so pages they all touch are written to the WAL once.
  const enqueue = (p: Omit<Pending, 'resolve' | 'reject'>): Promise<WriteResult> =>
    new Promise<WriteResult>((resolve, reject) => {
      queue.push({ ...p, resolve, reject });
      if (queue.length === 1) setImmediate(flush);
    });

  const range = (r: TimeRange | undefined): [number, number] => [r?.fromMs ?? Number.MIN_SAFE_INTEGER, r?.toMs ?? Number.MAX_SAFE_INTEGER];
  const idOf = (pseudonym: string): number | undefined =>
    (db.prepare('SELECT id FROM subjects WHERE pseudonym = ?').get(pseudonym) as { id: number } | undefined)?.id;

  const selectRollups = db.prepare(
    `SELECT bucket_ms, ${cols.map((c) => `sum(${c}_n) AS ${c}_n, sum(${c}_sum) AS ${c}_sum, max(${c}_max) AS ${c}_max`).join(', ')}
     FROM rollups.resource_rollups WHERE key >= ? AND key < ? GROUP BY key >> ${rollupSourceBits} ORDER BY key >> ${rollupSourceBits}`,
  );

  const store: TelemetryStore = {
    write(events) {
      if (events.length === 0) return Promise.resolve({ written: 0, refused: [] });
      return enqueue({ events });
    },

    writeResourceColumns(columns) {
      if (columns.rows === 0) return Promise.resolve({ written: 0, refused: [] });
      return enqueue({ columns });
    },

    async listSubjects(filter = {}) {
      subjectsWritten();
      const where: string[] = [];
      const params: string[] = [];
      if (filter.category !== undefined) (where.push('category = ?'), params.push(filter.category));
      if (filter.kind !== undefined) (where.push('kind = ?'), params.push(filter.kind));
      const rows = db
        .prepare(`SELECT pseudonym, kind, category, first_ms, last_ms FROM subjects ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY pseudonym`)
        .all(...params) as { pseudonym: string; kind: SubjectKind; category: string | null; first_ms: number; last_ms: number }[];
      return rows.map((r): SubjectInfo => ({ subject: r.pseudonym, kind: r.kind, category: r.category, firstMs: r.first_ms, lastMs: r.last_ms }));
    },

    async rollups(subject, r) {
      await caughtUp();
      const sid = idOf(subject);
      if (sid === undefined) return [];
      const rows = selectRollups.all(...rollupKeyRange(sid, ...range(r))) as Record<string, number | null>[];
      return rows.map((row) => {
        const out: ResourceRollup = { bucketMs: row.bucket_ms!, mean: {}, max: {}, samples: {} };
        resourceFields.forEach((f: ResourceField, i) => {
          const c = cols[i]!;
          const n = row[`${c}_n`] ?? 0;
          if (n > 0) {
            out.samples[f] = n;
            out.mean[f] = row[`${c}_sum`]! / n;
            out.max[f] = row[`${c}_max`]!;
          }
        });
        return out;
      });
    },

    async sequence(subject, options = {}) {
      const sid = idOf(subject);
      if (sid === undefined) return [];
      const kinds = options.kinds ?? ['launch', 'command'];
      const rows = db
        .prepare(
          `SELECT kind, time_ms, seq, name, user, session, task, source FROM sequence_events
           WHERE subject_id = ? AND time_ms >= ? AND time_ms < ? AND kind IN (${kinds.map(() => '?').join(', ')})
           ORDER BY time_ms, seq, rowid LIMIT ?`,
        )
        .all(sid, ...range(options), ...kinds, options.limit ?? -1) as {
        kind: SequenceItem['kind'];
        time_ms: number;
        seq: number | null;
        name: string;
        user: string | null;
        session: string | null;
        task: string | null;
        source: EventSource;
      }[];
      return rows.map((r) => ({ kind: r.kind, time: r.time_ms, seq: r.seq, name: r.name, user: r.user, session: r.session, task: r.task, source: r.source }));
    },

    async flows(subject, r) {
      const sid = idOf(subject);
      if (sid === undefined) return [];
      return db
        .prepare(
          `SELECT direction, protocol, port, remote, outcome, count(*) AS flows, sum(bytes) AS bytes, min(time_ms) AS firstMs, max(time_ms) AS lastMs
           FROM network_flows WHERE subject_id = ? AND time_ms >= ? AND time_ms < ?
           GROUP BY direction, protocol, port, remote, outcome ORDER BY bytes DESC, remote, outcome`,
        )
        .all(sid, ...range(r)) as FlowSummary[];
    },

    async dataAccesses(subject, r) {
      const sid = idOf(subject);
      if (sid === undefined) return [];
      return db
        .prepare(
          `SELECT target, op, count(*) AS accesses, sum(bytes) AS bytes, min(time_ms) AS firstMs, max(time_ms) AS lastMs
           FROM data_accesses WHERE subject_id = ? AND time_ms >= ? AND time_ms < ?
           GROUP BY target, op ORDER BY bytes DESC, target`,
        )
        .all(sid, ...range(r)) as DataAccessSummary[];
    },

    async guestImages(subject) {
      const sid = idOf(subject);
      if (sid === undefined) return [];
      return db.prepare('SELECT image, first_ms AS firstMs, last_ms AS lastMs FROM guest_images WHERE subject_id = ? ORDER BY first_ms, image').all(sid) as GuestImageSpan[];
    },

    async guestActivity(subject, r) {
      const sid = idOf(subject);
      const out: GuestActivity = { samples: [], programs: [], flows: [], accesses: [] };
      if (sid === undefined) return out;
      const [from, to] = range(r);
      out.samples = db
        .prepare(
          `SELECT time_ms AS time, cpu_cores AS cpuCores, cpu_percent AS cpuPercent, memory_bytes AS memoryBytes, memory_total_bytes AS memoryTotalBytes
           FROM resource_samples INDEXED BY resource_samples_agent WHERE source = 'agent' AND subject_id = ? AND time_ms >= ? AND time_ms < ? ORDER BY time_ms`,
        )
        .all(sid, from, to) as GuestActivity['samples'];
      out.programs = db
        .prepare(
          `SELECT kind, name, outcome, count(*) AS count, max(time_ms) AS lastMs FROM sequence_events
           WHERE subject_id = ? AND source = 'agent' AND time_ms >= ? AND time_ms < ? GROUP BY kind, name, outcome ORDER BY name, kind, outcome`,
        )
        .all(sid, from, to) as GuestActivity['programs'];
      out.flows = db
        .prepare(
          `SELECT direction, protocol, port, remote, outcome, count(*) AS flows, sum(bytes) AS bytes, min(time_ms) AS firstMs, max(time_ms) AS lastMs
           FROM network_flows WHERE subject_id = ? AND source = 'agent' AND time_ms >= ? AND time_ms < ?
           GROUP BY direction, protocol, port, remote, outcome ORDER BY port, direction, outcome, remote`,
        )
        .all(sid, from, to) as FlowSummary[];
      out.accesses = db
        .prepare(
          `SELECT target, op, count(*) AS accesses, sum(bytes) AS bytes, min(time_ms) AS firstMs, max(time_ms) AS lastMs
           FROM data_accesses WHERE subject_id = ? AND source = 'agent' AND time_ms >= ? AND time_ms < ? GROUP BY target, op ORDER BY target, op`,
        )
        .all(sid, from, to) as GuestActivity['accesses'];
      return out;
    },

    async grantConsent(pseudonyms, atMs) {
      const stmt = db.prepare('INSERT INTO consent (pseudonym, granted_at_ms) VALUES (?, ?) ON CONFLICT (pseudonym) DO NOTHING');
      db.transaction(() => pseudonyms.forEach((p) => stmt.run(p, atMs)))();
    },

    async revokeConsent(pseudonyms) {
      // Three commits, in this order, because the rollups are another file (each file's commit is
      // atomic only on its own): raw in-guest rows; their rollups; then the consent and the subject.
      // A crash between any two leaves the consent recorded, so running the revoke again finishes
      // it. A catch-up of the rollup thread either ran before the rollups are deleted (which then
      // removes what it added) or reads the raw rows after they are gone.
      // Caught up first, so that this process's own rollup thread is idle, not holding the lock.
      await caughtUp();
      let deleted = 0;
      const subjects = pseudonyms.map((p) => ({ p, sid: idOf(p), keep: false }));
      db.transaction(() => {
        for (const s of subjects) {
          if (s.sid === undefined) continue;
          for (const t of rawTables) deleted += db.prepare(`DELETE FROM ${t} WHERE subject_id = ? AND source = 'agent'`).run(s.sid).changes;
          db.prepare('DELETE FROM guest_images WHERE subject_id = ?').run(s.sid); // every row is in-guest data
          s.keep = rawTables.some((t) => db.prepare(`SELECT 1 FROM ${t} WHERE subject_id = ? LIMIT 1`).get(s.sid) !== undefined);
        }
      })();
      db.transaction(() => {
        for (const { sid, keep } of subjects) {
          if (sid === undefined) continue;
          // A subject known only from in-guest data leaves no trace at all.
          const [from, to] = rollupKeyRange(sid, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY);
          const agent = `AND key & ${2 ** rollupSourceBits - 1} = ${rollupSourceCodes.agent}`;
          db.prepare(`DELETE FROM rollups.resource_rollups WHERE key >= ? AND key < ? ${keep ? agent : ''}`).run(from, to);
        }
      })();
      db.transaction(() => {
        for (const { p, sid, keep } of subjects) {
          db.prepare('DELETE FROM consent WHERE pseudonym = ?').run(p);
          if (sid === undefined || keep) continue;
          db.prepare('DELETE FROM subjects WHERE id = ?').run(sid);
          const k = known.get(p);
          if (k !== undefined) dirtySubjects.delete(k);
          known.delete(p);
        }
      })();
      // Old page images of the deleted rows would otherwise live on in the WALs until reused.
      db.pragma('wal_checkpoint(TRUNCATE)');
      return { deleted };
    },

    async consentedPseudonyms() {
      const rows = db.prepare('SELECT pseudonym, granted_at_ms FROM consent ORDER BY granted_at_ms, pseudonym').all() as { pseudonym: string; granted_at_ms: number }[];
      return rows.map((r): ConsentRecord => ({ pseudonym: r.pseudonym, grantedAtMs: r.granted_at_ms }));
    },

    async countRejections(counts) {
      const stmt = db.prepare(
        'INSERT INTO rejections (reason, source, count) VALUES (?, ?, ?) ON CONFLICT (reason, source) DO UPDATE SET count = count + excluded.count',
      );
      db.transaction(() => counts.forEach((c) => c.count > 0 && stmt.run(c.reason, c.source, c.count)))();
    },

    async rejections() {
      return db.prepare('SELECT reason, source, count FROM rejections ORDER BY reason, source').all() as RejectionCount[];
    },

    async prune(policy) {
      await caughtUp(); // raw samples not yet rolled up must reach their rollups before they go
      let rawDeleted = 0;
      let rollupsDeleted = 0;
      db.transaction(() => {
        if (policy.rawBeforeMs !== undefined) {
          for (const t of rawTables) rawDeleted += db.prepare(`DELETE FROM ${t} WHERE time_ms < ?`).run(policy.rawBeforeMs).changes;
        }
        if (policy.rollupsBeforeMs !== undefined) {
          rollupsDeleted = db.prepare('DELETE FROM rollups.resource_rollups WHERE bucket_ms < ?').run(policy.rollupsBeforeMs).changes;
        }
      })();
      return { rawDeleted, rollupsDeleted };
    },

    async counts() {
      await caughtUp();
      const count = (sql: string): number => (db.prepare(sql).get() as { n: number }).n;
      const byKind: Record<EventKind, number> = {
        resource: count('SELECT count(*) AS n FROM resource_samples'),
        launch: count(`SELECT count(*) AS n FROM sequence_events WHERE kind = 'launch'`),
        command: count(`SELECT count(*) AS n FROM sequence_events WHERE kind = 'command'`),
        flow: count('SELECT count(*) AS n FROM network_flows'),
        access: count('SELECT count(*) AS n FROM data_accesses'),
      };
      return { ...byKind, rollups: count('SELECT count(*) AS n FROM rollups.resource_rollups'), subjects: count('SELECT count(*) AS n FROM subjects') } satisfies StoreCounts;
    },

    async close() {
      if (queue.length > 0) flush();
      // The last rollups (rollup thread) and the copy of the store's WAL back into its file
      // (checkpointer thread) run side by side; the final checkpoint below then has little left.
      if (checkpointing) await Promise.all([caughtUp(), checkpointer.request()]);
      else await caughtUp();
      await rollupThread.close();
      await checkpointer.close();
      if (db.open) {
        db.pragma('wal_checkpoint(TRUNCATE)');
        db.close();
      }
    },
  };
  return store;
}

/** Runs the steps of `schema` not yet run (its PRAGMA user_version counts them). */
function migrate(db: Database.Database, schema: 'main' | 'rollups', steps: readonly Migration[]): void {
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

/** `prescient.db` → `prescient-rollups.db`: the file the rollups live in, beside the store. */
export function rollupsFileOf(file: string): string {
  const dot = file.lastIndexOf('.');
  return dot > file.lastIndexOf('/') ? `${file.slice(0, dot)}-rollups${file.slice(dot)}` : `${file}-rollups`;
}
