import type Database from 'better-sqlite3';
import type { RejectionCount } from '../store.js';

export function countRejections(db: Database.Database, counts: readonly RejectionCount[]): void {
  const stmt = db.prepare('INSERT INTO rejections (reason, source, count) VALUES (?, ?, ?) ON CONFLICT (reason, source) DO UPDATE SET count = count + excluded.count');
  db.transaction(() => counts.forEach((c) => c.count > 0 && stmt.run(c.reason, c.source, c.count)))();
}

export function rejections(db: Database.Database): RejectionCount[] {
  return db.prepare('SELECT reason, source, count FROM rejections ORDER BY reason, source').all() as RejectionCount[];
}
