import { sessionsOf, type Session } from './evaluate-timing.js';

/**
 * Information a return-time hazard may be conditioned on beyond the time since the last session
 * and the clock (issue 19: what else might tell when a user comes back). Each is measured first
 * by the cross-fitted bound (`timingBound`'s `features`); docs/prediction.md has the figures.
 */

/** The gap between a subject's `sessions[index - 1]` and `sessions[index]` (what a feature may look at: only what came before the gap, and the clock). */
export interface GapContext {
  sessions: readonly Session[];
  index: number;
}

/**
 * Further information a hazard may be conditioned on: per gap, a small integer for each minute
 * of waiting (`minute` after the end, `atSeconds` the trace clock then). It must use nothing the
 * policy could not know by then (the sessions before the gap, the clock, other subjects' past).
 */
export type GapFeature = (gap: GapContext) => (minute: number, atSeconds: number) => number;

const bucketOf = (v: number, edges: readonly number[]): number => {
  let k = 0;
  while (k < edges.length && v >= edges[k]!) k++;
  return k;
};

/** The bucket of the gap before the last session (minutes; `edges.length + 1` when there is none): returns are bursty. */
export function previousGap(edges: readonly number[] = [60, 240, 1440]): GapFeature {
  return ({ sessions, index }) => {
    const v = index < 2 ? edges.length + 1 : bucketOf((sessions[index - 1]!.start - sessions[index - 2]!.end) / 60, edges);
    return () => v;
  };
}

/** How many sessions started in the `hours` before the last one ended (the last one included): an active spell. */
export function recentSessions(hours = 24, edges: readonly number[] = [2, 3, 5, 9]): GapFeature {
  return ({ sessions, index }) => {
    const end = sessions[index - 1]!.end;
    let n = 0;
    for (let j = index - 1; j >= 0 && sessions[j]!.start >= end - hours * 3600; j--) n++;
    const v = bucketOf(n, edges);
    return () => v;
  };
}

/** Consecutive gaps shorter than `minutes` just before the last session (the spell's length so far). */
export function spellLength(minutes = 120, edges: readonly number[] = [1, 2, 4, 8]): GapFeature {
  return ({ sessions, index }) => {
    let n = 0;
    for (let j = index - 1; j >= 1 && (sessions[j]!.start - sessions[j - 1]!.end) / 60 < minutes; j--) n++;
    const v = bucketOf(n, edges);
    return () => v;
  };
}

const day = 86_400;

/**
 * At each minute of waiting: hours since the first session of that minute's day (trace clock),
 * in `hours`-wide buckets, or a bucket of its own when the user has not started a session that day.
 */
export function sinceFirstOfDay(hours = 3): GapFeature {
  return ({ sessions, index }) => {
    const today = Math.floor(sessions[index - 1]!.end / day);
    let first: number | undefined;
    for (let j = index - 1; j >= 0 && sessions[j]!.end >= today * day; j--) if (sessions[j]!.start >= today * day) first = sessions[j]!.start;
    const none = Math.ceil(24 / hours);
    return (_minute, at) => (first !== undefined && Math.floor(at / day) === today ? Math.min(none - 1, Math.floor((at - first) / 3600 / hours)) : none);
  };
}

/**
 * The user's day-level schedule: at each minute of waiting, on how many of the `days` days before
 * it (up to 3) the user's first session of the day began within `toleranceMinutes` of this time of
 * day — or 4 when a session has already begun that day (its first start has passed).
 */
export function daySchedule(days = 7, toleranceMinutes = 30): GapFeature {
  return ({ sessions, index }) => {
    const firsts = new Map<number, number>();
    for (let j = index - 1; j >= 0; j--) {
      const d = Math.floor(sessions[j]!.start / day);
      if (d < Math.floor(sessions[index - 1]!.end / day) - days - 3) break;
      firsts.set(d, sessions[j]!.start % day); // walking back: the last set is the day's first
    }
    const lastStartDay = Math.floor(sessions[index - 1]!.start / day);
    return (_minute, at) => {
      const d = Math.floor(at / day);
      if (d === lastStartDay) return 4;
      const clock = at % day;
      let n = 0;
      for (let k = 1; k <= days; k++) {
        const f = firsts.get(d - k);
        if (f === undefined) continue;
        const diff = Math.abs(f - clock);
        if (Math.min(diff, day - diff) <= toleranceMinutes * 60) n++;
      }
      return Math.min(3, n);
    };
  };
}

/**
 * Other users' activity: session starts over every subject in the hour before each minute of
 * waiting, against their mean in that hour of the clock over the 7 days before (ratio buckets
 * `edges`; `edges.length + 1` when there is no history). A batch of submitters waking together.
 */
export function populationActivity(streams: ReadonlyMap<string, readonly number[]>, edges: readonly number[] = [0.5, 1, 2]): GapFeature {
  const step = 300;
  let last = 0;
  const all: Session[][] = [...streams.values()].map((t) => sessionsOf(t));
  for (const s of all) for (const x of s) last = Math.max(last, x.start);
  const steps = Math.floor(last / step) + 2;
  const prefix = new Float64Array(steps + 1);
  const counts = new Float64Array(steps);
  for (const s of all) for (const x of s) counts[Math.floor(x.start / step)]!++;
  for (let i = 0; i < steps; i++) prefix[i + 1] = prefix[i]! + counts[i]!;
  // Starts in the hour before step i (steps i-12 … i-1).
  const hour = (i: number): number => (i <= 0 ? 0 : prefix[Math.min(i, steps)]! - prefix[Math.max(0, i - 12)]!);
  return () => (_minute, at) => {
    const i = Math.floor(at / step);
    let usual = 0;
    let n = 0;
    for (let d = 1; d <= 7; d++) {
      const j = i - (d * day) / step;
      if (j < 12) break;
      usual += hour(j);
      n++;
    }
    if (n === 0 || usual === 0) return edges.length + 1;
    return bucketOf(hour(i) / (usual / n), edges);
  };
}
