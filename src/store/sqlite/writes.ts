import type Database from 'better-sqlite3';
import type { AnonymisedEvent } from '../../contracts/anonymised-event.js';
import type { AnonymisedResourceColumns } from '../../contracts/resource-columns.js';
import { eventSources, resourceFields, type SubjectKind } from '../../contracts/telemetry-event.js';
import { rowDigest, sampleDigest } from '../event-digest.js';
import type { TelemetryStore, WriteResult } from '../store.js';
import { columnSpans, resourceColumnNames as cols } from '../tables.js';
import type { Checkpointer } from './checkpointer.js';
import { consentCheck } from './consent.js';
import { guestImageWriter } from './guest.js';
import type { Rollups } from './rollups.js';
import type { Subjects } from './subjects.js';

const R = resourceFields.length;
if (resourceFields.join() !== 'cpuCores,cpuPercent,memoryBytes,memoryTotalBytes,diskReadBps,diskWriteBps,netInBps,netOutBps') {
  throw new Error('resourceFields changed: update the named reads in the sqlite write path');
}

export interface Writes extends Pick<TelemetryStore, 'write' | 'writeResourceColumns'> {
  /** Commits what is queued now (close). */
  flush(): void;
  /** Whether the checkpointer thread was ever asked (small stores never start it). */
  checkpointing(): boolean;
  /**
   * Resolves when no large write's transaction is open. Such a write yields the event loop
   * between slices, and this connection would see its rows before they are committed: every
   * other use of the connection (reads, consent, retention) waits for it.
   */
  idle(): Promise<void>;
}

interface Pending {
  events?: readonly AnonymisedEvent[];
  columns?: AnonymisedResourceColumns;
  resolve: (r: WriteResult) => void;
  reject: (e: unknown) => void;
}

interface SubjectAcc {
  kind: SubjectKind;
  category: string | null;
  first: number;
  last: number;
}

/** The write path: raw rows in group-committed transactions; rollups follow on their thread. */
export function createWrites(options: { db: Database.Database; subjects: Subjects; rollups: Rollups; checkpointer: Checkpointer }): Writes {
  const { db, subjects, rollups, checkpointer } = options;
  const consents = consentCheck(db);
  const images = guestImageWriter(db);
  /** Rows written since the last checkpoint request (raw samples count twice: rollups). */
  let unCheckpointed = 0;
  let checkpointing = false;

  // Many rows per statement: each call into SQLite costs about as much as the row itself, and
  // binding a value costs more than storing it, so column batches (one source each) get the
  // source as a literal rather than a parameter per row.
  const sampleChunk = 64;
  /** Rows of a write between two turns of the event loop when it is large (some 30 ms of SQLite). */
  const sliceRows = 5_000;
  // ON CONFLICT DO NOTHING: an event already stored is skipped (../event-digest.ts); `changes` counts the new.
  const sampleRow = (source: string) => `(?, ${source}, ?, ${cols.map(() => '?').join(', ')}, ?)`;
  const insertSamples = (rows: number, source = '?') =>
    db.prepare(
      `INSERT INTO resource_samples (subject_id, source, time_ms, ${cols.join(', ')}, digest) VALUES ${Array(rows).fill(sampleRow(source)).join(', ')} ON CONFLICT DO NOTHING`,
    );
  const insertSampleChunk = insertSamples(sampleChunk);
  const insertSample = insertSamples(1);
  const perSource = new Map(eventSources.map((src) => [src, { chunk: insertSamples(sampleChunk, `'${src}'`), one: insertSamples(1, `'${src}'`) }]));
  const insertSequence = db.prepare(
    'INSERT INTO sequence_events (subject_id, source, time_ms, seq, kind, name, user, session, task, outcome, digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
  );
  const insertFlow = db.prepare(
    'INSERT INTO network_flows (subject_id, source, time_ms, direction, protocol, port, remote, bytes, outcome, digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
  );
  const insertAccess = db.prepare('INSERT INTO data_accesses (subject_id, source, time_ms, target, op, bytes, digest) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING');
  /** Runs an insert of the rows of one event kind with their digest appended. */
  const insertRow = (stmt: Database.Statement, row: (string | number | null)[]): number => {
    row.push(rowDigest(row.slice(1, 2).concat(row.slice(3))));
    return stmt.run(row).changes;
  };

  const digestValues = new Float64Array(R);
  /** Yields every `sliceRows` rows (a driver decides whether to give the event loop a turn there). */
  const writeEvents = function* (all: readonly AnonymisedEvent[]): Generator<void, WriteResult> {
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
    const spans = new Map<string, SubjectAcc>();
    for (const e of events) {
      const s = spans.get(e.subject);
      if (!s) spans.set(e.subject, { kind: e.subjectKind, category: e.category ?? null, first: e.time, last: e.time });
      else {
        if (e.time < s.first) s.first = e.time;
        if (e.time > s.last) s.last = e.time;
        if (e.category !== undefined) s.category = e.category;
      }
    }
    const subjectIds = new Map<string, number>();
    for (const [pseudonym, s] of spans) subjectIds.set(pseudonym, subjects.idFor(pseudonym, s.kind, s.category, s.first, s.last));
    const chunk: (number | string | null)[] = [];
    const values: (number | undefined)[] = new Array(R);
    let samples = 0;
    let chunkRows = 0;
    let stored = 0;
    const imageSpans = images.spans();
    let sinceYield = 0;
    for (const e of events) {
      if (++sinceYield === sliceRows) {
        sinceYield = 0;
        yield;
      }
      const sid = subjectIds.get(e.subject)!;
      if (e.image !== undefined && e.source === 'agent') imageSpans.add(sid, e.image, e.time, e.time);
      switch (e.kind) {
        case 'resource': {
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
          for (let i = 0; i < R; i++) digestValues[i] = values[i] ?? Number.NaN;
          chunk.push(sampleDigest(e.source, digestValues));
          if (++chunkRows === sampleChunk) {
            samples += insertSampleChunk.run(chunk).changes;
            chunk.length = 0;
            chunkRows = 0;
          }
          break;
        }
        case 'launch':
          stored += insertRow(insertSequence, [sid, e.source, e.time, null, 'launch', e.executable, e.user ?? null, e.session ?? null, null, null]);
          break;
        case 'command':
          stored += insertRow(insertSequence, [sid, e.source, e.time, e.seq ?? null, 'command', e.program, null, e.session ?? null, e.task ?? null, e.outcome ?? null]);
          break;
        case 'flow':
          stored += insertRow(insertFlow, [sid, e.source, e.time, e.direction, e.protocol, e.port, e.remote, e.bytes, e.outcome ?? null]);
          break;
        case 'access':
          stored += insertRow(insertAccess, [sid, e.source, e.time, e.target, e.op ?? null, e.bytes]);
          break;
      }
    }
    for (let i = 0; i < chunkRows; i++) samples += insertSample.run(chunk.slice(i * (4 + R), (i + 1) * (4 + R))).changes;
    imageSpans.write();
    if (samples > 0) rollups.added(samples, true);
    stored += samples;
    return { written: events.length, alreadyStored: events.length - stored, refused };
  };

  const writeColumns = function* (b: AnonymisedResourceColumns): Generator<void, WriteResult> {
    if (b.rows === 0) return { written: 0, alreadyStored: 0, refused: [] };
    const { time, values, subjectOf } = b;
    const S = b.subjects.length;
    // Per subject: consent, then time span of its rows and its id (-1: refused).
    const sids = new Float64Array(S).fill(-1);
    const { first, last } = columnSpans(b);
    b.subjects.forEach((s, k) => {
      if (first[k] === Number.POSITIVE_INFINITY) return; // no row
      if (b.source === 'agent' && !consents(s.subject, s.aliases)) return;
      sids[k] = subjects.idFor(s.subject, s.subjectKind, s.category ?? null, first[k]!, last[k]!);
      if (s.image !== undefined && b.source === 'agent') images.upsert(sids[k]!, s.image, first[k]!, last[k]!);
    });
    const refused: number[] = [];
    const stmt = perSource.get(b.source)!;
    const width = 3 + R;
    const chunk: (number | null)[] = new Array(sampleChunk * width);
    const one: (number | null)[] = new Array(width);
    let inChunk = 0;
    let stored = 0;
    for (let row = 0; row < b.rows; row++) {
      if (row > 0 && row % sliceRows === 0) yield;
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
      chunk[at] = sampleDigest(b.source, values, row * R);
      if (++inChunk === sampleChunk) {
        stored += stmt.chunk.run(chunk).changes;
        inChunk = 0;
      }
    }
    for (let k = 0; k < inChunk; k++) {
      for (let j = 0; j < width; j++) one[j] = chunk[k * width + j]!;
      stored += stmt.one.run(one).changes;
    }
    const written = b.rows - refused.length;
    if (stored > 0) rollups.added(stored, b.subjects.length > 1);
    return { written, alreadyStored: written - stored, refused };
  };

  // BEGIN IMMEDIATE would lock every attached file, the rollups too, and stall the rollup thread
  // for the whole write: transactions are deferred, and one that reads before it writes starts
  // with a write that changes nothing, so that it waits for the store's lock (busy_timeout)
  // before reading, never fails to upgrade a read later (SQLITE_BUSY_SNAPSHOT).
  const lockStore = db.prepare('DELETE FROM main.store_meta WHERE 0');
  /**
   * One transaction for a group of writes; results per write, in order. Each write is its own
   * pass, so that what it found already stored is its own (an earlier write of the group that
   * stored the same event makes it a duplicate here, as a commit in between would).
   */
  const steps = (p: Pending): Generator<void, WriteResult> => (p.events !== undefined ? writeEvents(p.events) : writeColumns(p.columns!));
  const writeTx = db.transaction((group: readonly Pending[]): WriteResult[] => {
    lockStore.run();
    subjects.checkOthers();
    return group.map((p) => runToEnd(steps(p)));
  });
  /**
   * The same transaction for a group too large to write in one go (a 16 MiB body is 130,000
   * rows, a second or more of SQLite): a turn of the event loop every `sliceRows` rows, so
   * /healthz and every other request are answered meanwhile, and still one commit, so nothing
   * of it is visible (to another connection; to this one: `idle`) until all of it is.
   */
  const writeInSlices = async (group: readonly Pending[]): Promise<WriteResult[]> => {
    db.exec('BEGIN DEFERRED');
    try {
      lockStore.run();
      subjects.checkOthers();
      const results: WriteResult[] = [];
      for (const p of group) {
        const g = steps(p);
        for (let r = g.next(); ; r = g.next()) {
          if (r.done) {
            results.push(r.value);
            break;
          }
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
      db.exec('COMMIT');
      return results;
    } catch (e) {
      if (db.inTransaction) db.exec('ROLLBACK');
      throw e;
    }
  };

  let queue: Pending[] = [];
  /** The large write in progress (writeInSlices); nothing else uses the connection meanwhile. */
  let writing: Promise<void> | undefined;
  const committed = (group: readonly Pending[], results: readonly WriteResult[]): void => {
    rollups.committed();
    for (const r of results) unCheckpointed += r.written;
    if (unCheckpointed >= 20_000) {
      unCheckpointed = 0;
      checkpointing = true;
      void checkpointer.request();
    }
    group.forEach((p, i) => p.resolve(results[i]!));
  };
  const flush = (): void => {
    if (writing !== undefined) return; // it flushes what queued up once it is done
    const group = queue;
    queue = [];
    if (!db.open) {
      for (const p of group) p.reject(new Error('the telemetry store is closed'));
      return;
    }
    const rows = group.reduce((n, p) => n + (p.events?.length ?? p.columns!.rows), 0);
    if (rows > sliceRows) {
      writing = writeInSlices(group).then(
        (results) => committed(group, results),
        (e: unknown) => group.forEach((p) => p.reject(e)),
      );
      void writing.finally(() => {
        writing = undefined;
        if (queue.length > 0) setImmediate(flush);
      });
      return;
    }
    try {
      committed(group, writeTx.deferred(group));
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

  return {
    write: (events) => (events.length === 0 ? Promise.resolve({ written: 0, alreadyStored: 0, refused: [] }) : enqueue({ events })),
    writeResourceColumns: (columns) => (columns.rows === 0 ? Promise.resolve({ written: 0, alreadyStored: 0, refused: [] }) : enqueue({ columns })),
    flush() {
      if (queue.length > 0) flush();
    },
    checkpointing: () => checkpointing,
    async idle() {
      while (writing !== undefined) await writing;
    },
  };
}

/** A write's steps run without a break (small groups: one synchronous transaction). */
function runToEnd<T>(g: Generator<void, T>): T {
  for (;;) {
    const r = g.next();
    if (r.done) return r.value;
  }
}
