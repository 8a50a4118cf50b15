import type Database from 'better-sqlite3';
import type { FlowSummary, GuestActivity, GuestImageSpan, TimeRange } from '../store.js';
import { timeBounds } from '../time-range.js';
import { accessColumns, flowColumns } from './history.js';

/** Spans of (subject id, image) seen in one write, upserted once per write (`write`) or one at a time (`upsert`). */
export interface GuestImageWriter {
  upsert(sid: number, image: string, first: number, last: number): void;
  spans(): { add(sid: number, image: string, first: number, last: number): void; write(): void };
}

export function guestImageWriter(db: Database.Database): GuestImageWriter {
  const upsert = db.prepare<[number, string, number, number]>(
    `INSERT INTO guest_images (subject_id, image, first_ms, last_ms) VALUES (?, ?, ?, ?)
     ON CONFLICT (subject_id, image) DO UPDATE SET first_ms = min(first_ms, excluded.first_ms), last_ms = max(last_ms, excluded.last_ms)`,
  );
  return {
    upsert: (sid, image, first, last) => void upsert.run(sid, image, first, last),
    spans() {
      const spans = new Map<string, { sid: number; image: string; first: number; last: number }>();
      return {
        add(sid, image, first, last) {
          const k = `${sid}\0${image}`;
          const s = spans.get(k);
          if (!s) spans.set(k, { sid, image, first, last });
          else (s.first = Math.min(s.first, first)), (s.last = Math.max(s.last, last));
        },
        write: () => spans.forEach((s) => upsert.run(s.sid, s.image, s.first, s.last)),
      };
    },
  };
}

export function guestImages(db: Database.Database, subjectId: number): GuestImageSpan[] {
  return db.prepare('SELECT image, first_ms AS firstMs, last_ms AS lastMs FROM guest_images WHERE subject_id = ? ORDER BY first_ms, image').all(subjectId) as GuestImageSpan[];
}

export function guestActivity(db: Database.Database, subjectId: number, r: TimeRange | undefined): GuestActivity {
  const [from, to] = timeBounds(r);
  const where = `subject_id = ? AND source = 'agent' AND time_ms >= ? AND time_ms < ?`;
  return {
    samples: db
      .prepare(
        `SELECT time_ms AS time, cpu_cores AS cpuCores, cpu_percent AS cpuPercent, memory_bytes AS memoryBytes, memory_total_bytes AS memoryTotalBytes
         FROM resource_samples INDEXED BY resource_samples_agent WHERE source = 'agent' AND subject_id = ? AND time_ms >= ? AND time_ms < ? ORDER BY time_ms`,
      )
      .all(subjectId, from, to) as GuestActivity['samples'],
    programs: db
      .prepare(`SELECT kind, name, outcome, count(*) AS count, max(time_ms) AS lastMs FROM sequence_events WHERE ${where} GROUP BY kind, name, outcome ORDER BY name, kind, outcome`)
      .all(subjectId, from, to) as GuestActivity['programs'],
    flows: db
      .prepare(`SELECT ${flowColumns} FROM network_flows WHERE ${where} GROUP BY direction, protocol, port, remote, outcome ORDER BY port, direction, outcome, remote`)
      .all(subjectId, from, to) as FlowSummary[],
    accesses: db
      .prepare(`SELECT ${accessColumns} FROM data_accesses WHERE ${where} GROUP BY target, op ORDER BY target, op`)
      .all(subjectId, from, to) as GuestActivity['accesses'],
  };
}
