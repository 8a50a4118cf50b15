import { sessionsOf } from './evaluate-timing.js';
import type { GapFeature } from './gap-features.js';
import { binOfStep, hazardStepMinutes } from './hazard-window.js';

export interface TimingBoundOptions {
  /** Unused minutes per session the bound may spend (the hybrid histogram's, to compare with it). */
  budgetMinutes: number;
  /** Also per bucket of the clock (hours wide), as the clock-aware hazard window. */
  clockHours?: number;
  /**
   * Further cells inside the clock's (or the bin's), each shrunk to the level above it with 300
   * pseudo-minutes: subject × bin → × clock → × features[0] → × features[1] …
   */
  features?: readonly GapFeature[];
  /**
   * Shrink each feature level not to the level above it as is but times the population's ratio
   * for that feature value (pooled hazard of bin × feature over the pooled hazard of the bin): an
   * effect every subject shares (a short gap before, a busy hour) then reaches a subject's thin cells.
   */
  pooledFeatures?: boolean;
  /** Pseudo-minutes with which a feature level is shrunk to the one above (300, as the clock level). */
  featureSmoothingMinutes?: number;
  /**
   * `in-sample`: each subject's hazard per cell from all of its own gaps, scored on those same gaps
   * (knows the distribution it is scored on). `cross-fitted`: estimated on every other gap of the
   * subject, scored on the others and vice versa (knows the subject's whole distribution, past and
   * future, but not the gap it predicts) — shrunk like the hazard window (cell → subject → pool).
   * `leave-one-out`: the same, each gap scored by an estimate from every other gap (twice the
   * data of a half: whether halving the history is what keeps the cross-fitted bound up).
   */
  mode: 'in-sample' | 'cross-fitted' | 'leave-one-out';
}

interface Counts {
  events: [number, number];
  exposure: [number, number];
}

/**
 * What an oracle-ish policy could reach: per subject a hazard over bins of time since the session
 * ended (and clock buckets, and further features); minutes prepared greedily across every subject
 * by hazard, the most likely per minute first, until `budgetMinutes` per session are spent (the
 * optimal spending of a shared budget when cells are known). Returns the cold-start rate that leaves.
 */
export function timingBound(streams: ReadonlyMap<string, readonly number[]>, options: TimingBoundOptions): number {
  const clockHours = options.clockHours;
  const extra = options.features ?? [];
  // Level 0: subject × bin; level 1: × clock (0 when the clock is not used); level 1 + j: × features[0..j].
  const levels = 2 + extra.length;
  const counts = new Map<string, Counts>();
  // The pool by half as well: a feature's pooled ratio must not know the gaps it is scored on.
  const pooled = new Map<string, Counts>();
  const cellKeys = new Set<string>();
  // Leave-one-out: each gap's own contribution to every key, taken out of the totals when it is scored.
  const gapCells: { cells: Set<string>; own: Map<string, [number, number]>; pool: Map<string, [number, number]> }[] | undefined = options.mode === 'leave-one-out' ? [] : undefined;
  let sessions = 0;
  let subject = 0;
  const add = (key: string, half: number, event: number, exposure: number): void => {
    const c = counts.get(key) ?? { events: [0, 0], exposure: [0, 0] };
    c.events[half as 0 | 1] += event;
    c.exposure[half as 0 | 1] += exposure;
    counts.set(key, c);
  };
  const addPooled = (key: string, half: number, event: number, exposure: number): void => {
    const p = pooled.get(key) ?? { events: [0, 0], exposure: [0, 0] };
    p.events[half as 0 | 1] += event;
    p.exposure[half as 0 | 1] += exposure;
    pooled.set(key, p);
  };
  for (const times of streams.values()) {
    subject++;
    const s = sessionsOf(times);
    for (let i = 1; i < s.length; i++) {
      sessions++;
      const half = options.mode === 'cross-fitted' ? i % 2 : 0;
      const g = gapCells && { cells: new Set<string>(), own: new Map<string, [number, number]>(), pool: new Map<string, [number, number]>() };
      gapCells?.push(g!);
      const note = (m: Map<string, [number, number]> | undefined, key: string, event: number, exposure: number): void => {
        if (!m) return;
        const v = m.get(key) ?? [0, 0];
        v[0] += event;
        v[1] += exposure;
        m.set(key, v);
      };
      const gap = (s[i]!.start - s[i - 1]!.end) / 60;
      const at = extra.map((f) => f({ sessions: s, index: i }));
      for (let k = 0; k < binOfStep.length && k * hazardStepMinutes <= gap; k++) {
        const t = k * hazardStepMinutes;
        const seconds = s[i - 1]!.end + t * 60;
        const bin = binOfStep[k]!;
        const bucket = clockHours ? Math.floor((Math.floor(seconds / 3600) % 24) / clockHours) : 0;
        const exposure = Math.min(gap, t + hazardStepMinutes) - t;
        const event = gap < t + hazardStepMinutes ? 1 : 0;
        // Keys of every level, the subject's and the pool's.
        let key = `${subject}|${bin}`;
        let poolKey = `${bin}`;
        add(key, half, event, exposure);
        addPooled(poolKey, half, event, exposure);
        note(g?.own, key, event, exposure);
        note(g?.pool, poolKey, event, exposure);
        for (let l = 1; l < levels; l++) {
          const v = l === 1 ? bucket : at[l - 2]!(t, seconds);
          key += `|${v}`;
          poolKey += `|${v}`;
          add(key, half, event, exposure);
          addPooled(poolKey, half, event, exposure);
          note(g?.own, key, event, exposure);
          note(g?.pool, poolKey, event, exposure);
        }
        cellKeys.add(key);
        g?.cells.add(key);
      }
    }
  }
  const items: { hazard: number; events: number; exposure: number }[] = [];
  const rate = (events: number, exposure: number): number => events / Math.max(1e-9, exposure);
  // The same shrinkage as the clock-aware hazard window: 300 pseudo-minutes to the pool, 300 to each
  // level above. `own(key)` / `pool(key)`: the events and exposure a cell's estimate may use.
  const hazardOf = (key: string, own: (key: string) => [number, number], pool: (key: string) => [number, number]): number => {
    const parts = key.split('|');
    const bin = parts[1]!;
    // The base prior is pooled over every gap of the training part, as the hazard window's prior.
    const all = pooled.get(bin)!;
    let h = rate(all.events[0] + all.events[1], all.exposure[0] + all.exposure[1]);
    let levelKey = parts.slice(0, 2).join('|');
    let poolKey = bin;
    for (let l = 0; l < levels; l++) {
      if (l > 0) {
        levelKey += `|${parts[l + 1]}`;
        const parentPool = poolKey;
        poolKey += `|${parts[l + 1]}`;
        if (l === 1 && !clockHours) continue;
        if (options.pooledFeatures && l >= 2) {
          // The pooled cell shrunk to its parent too (2,000 pseudo-minutes): a thin pooled cell's ratio is noise.
          const parent = rate(...pool(parentPool));
          const [e, x] = pool(poolKey);
          if (parent > 0) h *= (e + 2000 * parent) / (x + 2000) / parent;
        }
      }
      const [e, x] = own(levelKey);
      const m = l >= 2 ? (options.featureSmoothingMinutes ?? 300) : 300;
      h = (e + m * h) / (x + m);
    }
    return h;
  };
  if (options.mode === 'leave-one-out') {
    const total = (c: Counts | undefined): [number, number] => (c ? [c.events[0] + c.events[1], c.exposure[0] + c.exposure[1]] : [0, 0]);
    for (const g of gapCells!) {
      const minus = (t: [number, number], o: [number, number] | undefined): [number, number] => (o ? [t[0] - o[0], t[1] - o[1]] : t);
      for (const key of g.cells) {
        const mine = g.own.get(key)!;
        const hazard = hazardOf(
          key,
          (k) => minus(total(counts.get(k)), g.own.get(k)),
          (k) => minus(total(pooled.get(k)), g.pool.get(k)),
        );
        items.push({ hazard, events: mine[0], exposure: mine[1] });
      }
    }
  } else
    for (const key of cellKeys) {
      const c = counts.get(key)!;
      if (options.mode === 'in-sample') {
        if (c.events[0] > 0) items.push({ hazard: c.events[0] / c.exposure[0], events: c.events[0], exposure: c.exposure[0] });
        continue;
      }
      for (const scored of [0, 1] as const) {
        const from = scored === 0 ? 1 : 0;
        const pick = (x: Counts | undefined): [number, number] => (x ? [x.events[from], x.exposure[from]] : [0, 0]);
        const hazard = hazardOf(key, (k) => pick(counts.get(k)), (k) => pick(pooled.get(k)));
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
