import type { ConsentRecord } from '../store.js';
import { rawTables } from '../tables.js';
import type { Queryable } from './transaction.js';

/**
 * Which of `pseudonyms` have consent, locking those consent rows (FOR SHARE) to the end of the
 * caller's write transaction: a revoke deletes the consent first (waiting for those locks), so
 * a write either commits before the revoke looks for in-guest rows (and they are deleted with
 * the rest) or runs after it and finds no consent. Never a row written after its revoke.
 */
export async function consentedAmong(c: Queryable, pseudonyms: readonly string[]): Promise<Set<string>> {
  if (pseudonyms.length === 0) return new Set();
  const { rows } = await c.query<{ pseudonym: string }>(
    'SELECT pseudonym FROM consent WHERE pseudonym = ANY($1::text[]) ORDER BY pseudonym FOR SHARE',
    [pseudonyms],
  );
  return new Set(rows.map((r) => r.pseudonym));
}

export async function grantConsent(c: Queryable, pseudonyms: readonly string[], atMs: number): Promise<void> {
  await c.query(
    `INSERT INTO consent (pseudonym, granted_at_ms) SELECT p, $2 FROM unnest($1::text[]) AS p ORDER BY p COLLATE "C" ON CONFLICT (pseudonym) DO NOTHING`,
    [pseudonyms, atMs],
  );
}

/**
 * In one transaction (one database here, unlike SQLite's two files): the consent rows first
 * (see consentedAmong), then the subjects' rows, locked FOR UPDATE so that no write adds to a
 * subject while it is judged to have other data (`keep`) or not; then the in-guest rows, their
 * rollups, their image spans, and a subject known only from in-guest data.
 */
export async function revokeConsent(c: Queryable, pseudonyms: readonly string[]): Promise<{ deleted: number }> {
  await c.query(
    `DELETE FROM consent WHERE pseudonym IN (SELECT pseudonym FROM consent WHERE pseudonym = ANY($1::text[]) ORDER BY pseudonym FOR UPDATE)`,
    [pseudonyms],
  );
  const { rows: subjects } = await c.query<{ id: number }>('SELECT id FROM subjects WHERE pseudonym = ANY($1::text[]) ORDER BY pseudonym FOR UPDATE', [pseudonyms]);
  let deleted = 0;
  for (const { id } of subjects) {
    for (const t of rawTables) deleted += (await c.query(`DELETE FROM ${t} WHERE subject_id = $1 AND source = 'agent'`, [id])).rowCount ?? 0;
    await c.query('DELETE FROM guest_images WHERE subject_id = $1', [id]); // every row is in-guest data
    const keep = (await c.query(rawTables.map((t) => `SELECT 1 FROM ${t} WHERE subject_id = $1`).join(' UNION ALL ') + ' LIMIT 1', [id])).rowCount! > 0;
    if (keep) await c.query(`DELETE FROM resource_rollups WHERE subject_id = $1 AND source = 'agent'`, [id]);
    else {
      await c.query('DELETE FROM resource_rollups WHERE subject_id = $1', [id]);
      await c.query('DELETE FROM subjects WHERE id = $1', [id]);
    }
  }
  return { deleted };
}

export async function consentedPseudonyms(c: Queryable): Promise<ConsentRecord[]> {
  const { rows } = await c.query<ConsentRecord>('SELECT pseudonym, granted_at_ms AS "grantedAtMs" FROM consent ORDER BY granted_at_ms, pseudonym');
  return rows;
}

export async function hasConsent(c: Queryable, pseudonyms: readonly string[]): Promise<boolean> {
  if (pseudonyms.length === 0) return false;
  const { rowCount } = await c.query('SELECT 1 FROM consent WHERE pseudonym = ANY($1::text[]) LIMIT 1', [pseudonyms]);
  return (rowCount ?? 0) > 0;
}
