import type { SubjectKind } from '../../contracts/telemetry-event.js';
import type { SubjectInfo } from '../store.js';
import type { Queryable } from './transaction.js';

/** A subject as one write saw it: its span in that write and its latest category there. */
export interface SubjectSpan {
  pseudonym: string;
  kind: SubjectKind;
  category: string | null;
  first: number;
  last: number;
}

/**
 * Creates or widens the subjects of one write and returns their ids. In pseudonym order, so
 * that two writes sharing subjects take their row locks in the same order (no deadlock); the
 * lock is held to the write's commit, which is what keeps a concurrent revoke (consent.ts) and
 * this write from interleaving on one subject.
 */
export async function upsertSubjects(c: Queryable, spans: readonly SubjectSpan[]): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  if (spans.length === 0) return ids;
  const { rows } = await c.query<{ id: number; pseudonym: string }>(
    `INSERT INTO subjects (pseudonym, kind, category, first_ms, last_ms)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[]) AS t (p, k, c, f, l) ORDER BY p COLLATE "C"
     ON CONFLICT (pseudonym) DO UPDATE SET
       category = coalesce(excluded.category, subjects.category),
       first_ms = least(subjects.first_ms, excluded.first_ms),
       last_ms = greatest(subjects.last_ms, excluded.last_ms)
     RETURNING id, pseudonym`,
    [spans.map((s) => s.pseudonym), spans.map((s) => s.kind), spans.map((s) => s.category), spans.map((s) => s.first), spans.map((s) => s.last)],
  );
  for (const r of rows) ids.set(r.pseudonym, r.id);
  return ids;
}

export async function subjectIdOf(c: Queryable, pseudonym: string): Promise<number | undefined> {
  const { rows } = await c.query<{ id: number }>('SELECT id FROM subjects WHERE pseudonym = $1', [pseudonym]);
  return rows[0]?.id;
}

export async function listSubjects(c: Queryable, filter: { category?: string; kind?: SubjectKind }): Promise<SubjectInfo[]> {
  const where: string[] = [];
  const params: string[] = [];
  if (filter.category !== undefined) (params.push(filter.category), where.push(`category = $${params.length}`));
  if (filter.kind !== undefined) (params.push(filter.kind), where.push(`kind = $${params.length}`));
  const { rows } = await c.query<SubjectInfo>(
    `SELECT pseudonym AS subject, kind, category, first_ms AS "firstMs", last_ms AS "lastMs" FROM subjects
     ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY pseudonym`,
    params,
  );
  return rows;
}

export async function subjectInfo(c: Queryable, pseudonym: string): Promise<SubjectInfo | undefined> {
  const { rows } = await c.query<SubjectInfo>(
    'SELECT pseudonym AS subject, kind, category, first_ms AS "firstMs", last_ms AS "lastMs" FROM subjects WHERE pseudonym = $1',
    [pseudonym],
  );
  return rows[0];
}
