import type Database from 'better-sqlite3';
import type { ConsentRecord } from '../store.js';
import { rawTables } from '../tables.js';
import { rollupKeyRange, rollupSourceBits, rollupSourceCodes } from './migrations.js';
import type { Rollups } from './rollups.js';
import type { Subjects } from './subjects.js';

/** Whether a subject (or one of its older pseudonyms) has consent; run inside the write transaction. */
export function consentCheck(db: Database.Database): (subject: string, aliases: readonly string[] | undefined) => boolean {
  const has = db.prepare<[string], { one: number }>('SELECT 1 AS one FROM consent WHERE pseudonym = ?');
  return (subject, aliases) => has.get(subject) !== undefined || (aliases ?? []).some((p) => has.get(p) !== undefined);
}

export function grantConsent(db: Database.Database, pseudonyms: readonly string[], atMs: number): void {
  const stmt = db.prepare('INSERT INTO consent (pseudonym, granted_at_ms) VALUES (?, ?) ON CONFLICT (pseudonym) DO NOTHING');
  db.transaction(() => pseudonyms.forEach((p) => stmt.run(p, atMs)))();
}

export async function revokeConsent(options: { db: Database.Database; subjects: Subjects; rollups: Rollups }, pseudonyms: readonly string[]): Promise<{ deleted: number }> {
  const { db, subjects, rollups } = options;
  // Three commits, in this order, because the rollups are another file (each file's commit is
  // atomic only on its own): the consent with the raw in-guest rows; their rollups; then the
  // subject. The consent goes in the first commit, with the rows: a write of another process
  // (serve, while the CLI revokes) checks consent under the same write lock, so it either
  // committed before (its rows are deleted here) or finds none; left to the last commit, a
  // write between the first and the last would keep in-guest rows after their revoke. A crash
  // between two commits leaves rollups or a subject row behind; running the revoke again (it
  // needs no recorded consent) finishes it. A catch-up of the rollup thread either ran before
  // the rollups are deleted (which then removes what it added) or reads the raw rows after
  // they are gone.
  // Caught up first, so that this process's own rollup thread is idle, not holding the lock.
  await rollups.caughtUp();
  let deleted = 0;
  const targets = pseudonyms.map((p) => ({ p, sid: subjects.idOf(p), keep: false }));
  db.transaction(() => {
    for (const s of targets) {
      db.prepare('DELETE FROM consent WHERE pseudonym = ?').run(s.p);
      if (s.sid === undefined) continue;
      for (const t of rawTables) deleted += db.prepare(`DELETE FROM ${t} WHERE subject_id = ? AND source = 'agent'`).run(s.sid).changes;
      db.prepare('DELETE FROM guest_images WHERE subject_id = ?').run(s.sid); // every row is in-guest data
      s.keep = rawTables.some((t) => db.prepare(`SELECT 1 FROM ${t} WHERE subject_id = ? LIMIT 1`).get(s.sid) !== undefined);
    }
  })();
  db.transaction(() => {
    for (const { sid, keep } of targets) {
      if (sid === undefined) continue;
      // A subject known only from in-guest data leaves no trace at all.
      const [from, to] = rollupKeyRange(sid, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY);
      const agent = `AND key & ${2 ** rollupSourceBits - 1} = ${rollupSourceCodes.agent}`;
      db.prepare(`DELETE FROM rollups.resource_rollups WHERE key >= ? AND key < ? ${keep ? agent : ''}`).run(from, to);
    }
  })();
  db.transaction(() => {
    for (const { p, sid, keep } of targets) {
      if (sid === undefined || keep) continue;
      db.prepare('DELETE FROM subjects WHERE id = ?').run(sid);
      subjects.forget(p);
    }
  })();
  // Old page images of the deleted rows would otherwise live on in the WALs until reused.
  db.pragma('wal_checkpoint(TRUNCATE)');
  return { deleted };
}

export function consentedPseudonyms(db: Database.Database): ConsentRecord[] {
  const rows = db.prepare('SELECT pseudonym, granted_at_ms FROM consent ORDER BY granted_at_ms, pseudonym').all() as { pseudonym: string; granted_at_ms: number }[];
  return rows.map((r): ConsentRecord => ({ pseudonym: r.pseudonym, grantedAtMs: r.granted_at_ms }));
}

export function hasConsent(db: Database.Database, pseudonyms: readonly string[]): boolean {
  if (pseudonyms.length === 0) return false;
  const marks = pseudonyms.map(() => '?').join(', ');
  return db.prepare(`SELECT 1 FROM consent WHERE pseudonym IN (${marks}) LIMIT 1`).get(...pseudonyms) !== undefined;
}
