import { sessionsOf } from './evaluate-timing.js';
import { binOfStep, hazardStepMinutes } from './hazard-window.js';

export interface TimingBoundOptions {
  /** Unused minutes per session the bound may spend (the hybrid histogram's, to compare with it). */
  budgetMinutes: number;
  /** Also per bucket of the clock (hours wide), as the clock-aware hazard window. */
  clockHours?: number;
  /**
   * `in-sample`: each subject's hazard per cell from all of its own gaps, scored on those same gaps
   * (knows the distribution it is scored on). `cross-fitted`: estimated on every other gap of the
   * subject, scored on the others and vice versa (knows the subject's whole distribution, past and
   * future, but not the gap it predicts) — shrunk like the hazard window (cell → subject → pool).
   */
  mode: 'in-sample' | 'cross-fitted';
}

interface Cell {
  events: [number, number];
  exposure: [number, number];
  bin: number;
  subjectBin: string;
}

/**
 * What an oracle-ish policy could reach: per subject a hazard over bins of time since the session
 * ended (and clock buckets); minutes prepared greedily across every subject by hazard, the most
 * likely per minute first, until `budgetMinutes` per session are spent (the optimal spending of
 * a shared budget when cells are known). Returns the cold-start rate that leaves.
 */
export function timingBound(streams: ReadonlyMap<string, readonly number[]>, options: TimingBoundOptions): number {
  const cells = new Map<string, Cell>();
  const subjectBins = new Map<string, { events: [number, number]; exposure: [number, number] }>();
  const pooled = new Map<number, { events: number; exposure: number }>();
  let sessions = 0;
  let subject = 0;
  for (const times of streams.values()) {
    subject++;
    const s = sessionsOf(times);
    for (let i = 1; i < s.length; i++) {
      sessions++;
      const half = options.mode === 'in-sample' ? 0 : i % 2;
      const gap = (s[i]!.start - s[i - 1]!.end) / 60;
      for (let k = 0; k < binOfStep.length && k * hazardStepMinutes <= gap; k++) {
        const t = k * hazardStepMinutes;
        const bin = binOfStep[k]!;
        const bucket = options.clockHours ? Math.floor((Math.floor((s[i - 1]!.end + t * 60) / 3600) % 24) / options.clockHours) : 0;
        const exposure = Math.min(gap, t + hazardStepMinutes) - t;
        const event = gap < t + hazardStepMinutes ? 1 : 0;
        const subjectBin = `${subject}|${bin}`;
        const key = `${subjectBin}|${bucket}`;
        const c = cells.get(key) ?? { events: [0, 0], exposure: [0, 0], bin, subjectBin };
        c.events[half] += event;
        c.exposure[half] += exposure;
        cells.set(key, c);
        const sb = subjectBins.get(subjectBin) ?? { events: [0, 0], exposure: [0, 0] };
        sb.events[half] += event;
        sb.exposure[half] += exposure;
        subjectBins.set(subjectBin, sb);
        const p = pooled.get(bin) ?? { events: 0, exposure: 0 };
        p.events += event;
        p.exposure += exposure;
        pooled.set(bin, p);
      }
    }
  }
  const items: { hazard: number; events: number; exposure: number }[] = [];
  for (const c of cells.values()) {
    if (options.mode === 'in-sample') {
      if (c.events[0] > 0) items.push({ hazard: c.events[0] / c.exposure[0], events: c.events[0], exposure: c.exposure[0] });
      continue;
    }
    const p = pooled.get(c.bin)!;
    const sb = subjectBins.get(c.subjectBin)!;
    for (const scored of [0, 1] as const) {
      const from = scored === 0 ? 1 : 0;
      // The same shrinkage as the clock-aware hazard window: 300 pseudo-minutes to the pool, 300 to the subject's bin.
      const own = (sb.events[from] + 300 * (p.events / p.exposure)) / (sb.exposure[from] + 300);
      const hazard = options.clockHours ? (c.events[from] + 300 * own) / (c.exposure[from] + 300) : own;
      items.push({ hazard, events: c.events[scored], exposure: c.exposure[scored] });
    }
  }
  items.sort((a, b) => b.hazard - a.hazard);
  let warm = 0;
  let spent = 0;
  for (const x of items) {
    if ((spent + x.exposure) / sessions > options.budgetMinutes) continue;
    warm += x.events;
    spent += x.exposure;
  }
  return sessions ? 1 - warm / sessions : 0;
}
