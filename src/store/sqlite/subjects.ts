import type Database from 'better-sqlite3';
import type { SubjectKind } from '../../contracts/telemetry-event.js';
import type { SubjectInfo } from '../store.js';

/**
 * Subjects this process has written, with the span and category it knows of. A batch that
 * widens them only marks the row dirty; the rows are updated when rollups catch up (the same
 * moments, the same reads wait for it): live data from 200 VMs would otherwise rewrite 200
 * subject rows per request.
 */
export interface Subjects {
  /** The subject's id, created or widened (in memory until `flush`). Inside a write transaction. */
  idFor(pseudonym: string, kind: SubjectKind, category: string | null, first: number, last: number): number;
  /** Writes the widened spans (inside a transaction). */
  flush(): void;
  /** Writes them in a transaction of their own, if there are any. */
  written(): void;
  /**
   * Another process (`prescient consent revoke`) may have deleted a subject row: what we know is
   * only trusted while nobody else has committed since our last transaction. Inside a write transaction.
   */
  checkOthers(): void;
  /** A subject deleted by this process (revoke). */
  forget(pseudonym: string): void;
  idOf(pseudonym: string): number | undefined;
  list(filter: { category?: string; kind?: SubjectKind }): SubjectInfo[];
  one(pseudonym: string): SubjectInfo | undefined;
}

interface SubjectRow {
  pseudonym: string;
  kind: SubjectKind;
  category: string | null;
  first_ms: number;
  last_ms: number;
}

const infoOf = (r: SubjectRow): SubjectInfo => ({ subject: r.pseudonym, kind: r.kind, category: r.category, firstMs: r.first_ms, lastMs: r.last_ms });

interface KnownSubject {
  id: number;
  first: number;
  last: number;
  category: string | null;
}

export function createSubjects(db: Database.Database): Subjects {
  const known = new Map<string, KnownSubject>();
  const dirty = new Set<KnownSubject>();
  const update = db.prepare<[number, number, string | null, number]>(
    'UPDATE subjects SET first_ms = min(first_ms, ?), last_ms = max(last_ms, ?), category = coalesce(?, category) WHERE id = ?',
  );
  const upsert = db.prepare<[string, string, string | null, number, number]>(
    `INSERT INTO subjects (pseudonym, kind, category, first_ms, last_ms) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (pseudonym) DO UPDATE SET
       category = coalesce(excluded.category, category),
       first_ms = min(first_ms, excluded.first_ms),
       last_ms = max(last_ms, excluded.last_ms)
     RETURNING id`,
  );
  const selectId = db.prepare<[string], { id: number }>('SELECT id FROM subjects WHERE pseudonym = ?');
  const selectOne = db.prepare<[string], SubjectRow>('SELECT pseudonym, kind, category, first_ms, last_ms FROM subjects WHERE pseudonym = ?');
  const dataVersion = db.prepare<[], number>('PRAGMA data_version').pluck();
  let seenVersion = dataVersion.get()!;
  const flush = (): void => {
    for (const k of dirty) update.run(k.first, k.last, k.category, k.id);
    dirty.clear();
  };
  return {
    idFor(pseudonym, kind, category, first, last) {
      const k = known.get(pseudonym);
      if (k === undefined) {
        const id = (upsert.get(pseudonym, kind, category, first, last) as { id: number }).id;
        known.set(pseudonym, { id, first, last, category });
        return id;
      }
      let changed = false;
      if (first < k.first) (k.first = first), (changed = true);
      if (last > k.last) (k.last = last), (changed = true);
      if (category !== null && category !== k.category) (k.category = category), (changed = true);
      if (changed) dirty.add(k);
      return k.id;
    },
    flush,
    written() {
      if (dirty.size > 0 && db.open) db.transaction(flush).deferred();
    },
    checkOthers() {
      const v = dataVersion.get()!;
      if (v === seenVersion) return;
      seenVersion = v;
      flush();
      known.clear();
    },
    forget(pseudonym) {
      const k = known.get(pseudonym);
      if (k !== undefined) dirty.delete(k);
      known.delete(pseudonym);
    },
    idOf: (pseudonym) => selectId.get(pseudonym)?.id,
    list(filter) {
      const where: string[] = [];
      const params: string[] = [];
      if (filter.category !== undefined) (where.push('category = ?'), params.push(filter.category));
      if (filter.kind !== undefined) (where.push('kind = ?'), params.push(filter.kind));
      const rows = db
        .prepare(`SELECT pseudonym, kind, category, first_ms, last_ms FROM subjects ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY pseudonym`)
        .all(...params) as SubjectRow[];
      return rows.map(infoOf);
    },
    one(pseudonym) {
      const row = selectOne.get(pseudonym);
      return row === undefined ? undefined : infoOf(row);
    },
  };
}
