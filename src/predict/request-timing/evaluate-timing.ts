import type { TimingPolicyFactory } from './timing-policies.js';

/** A session: requests with no gap longer than this between them. */
export const sessionGapSeconds = 30 * 60;

export interface Session {
  start: number;
  end: number;
}

export function sessionsOf(times: readonly number[]): Session[] {
  const out: Session[] = [];
  for (const t of times) {
    const last = out[out.length - 1];
    if (last && t - last.end <= sessionGapSeconds) last.end = t;
    else out.push({ start: t, end: t });
  }
  return out;
}

export interface TimingResult {
  policy: string;
  /** Sessions scored: every session after a subject's first, starting at or after `scoreFrom`. */
  sessions: number;
  /** Share of scored sessions that started with nothing prepared. */
  coldStartRate: number;
  /** Prepared-but-unused minutes per scored session (the time prepared before it started). */
  unusedMinutesPerSession: number;
}

/**
 * Replays each policy over every subject's sessions: after a session ends the policy names its
 * window; the next session is warm if it starts inside it. The time prepared before the start (or
 * the whole window, when the start came after it) is unused. Policies learn from every gap, but
 * only sessions starting at or after `scoreFrom` (seconds) are scored, so a choice made on the
 * earlier part is scored on a later part it never saw.
 */
export function replayTiming(streams: ReadonlyMap<string, readonly number[]>, policies: readonly TimingPolicyFactory[], scoreFrom = -Infinity): TimingResult[] {
  const sessionsBySubject = [...streams.values()].map(sessionsOf);
  return policies.map((factory) => {
    let scored = 0;
    let cold = 0;
    let unused = 0;
    for (const sessions of sessionsBySubject) {
      const policy = factory.create();
      for (let i = 1; i < sessions.length; i++) {
        const gap = (sessions[i]!.start - sessions[i - 1]!.end) / 60;
        const { from, to } = policy.window();
        if (sessions[i]!.start >= scoreFrom) {
          scored++;
          if (gap >= from && gap <= to) unused += gap - from;
          else {
            cold++;
            if (gap > to) unused += to - from;
          }
        }
        policy.observe(gap);
      }
    }
    return { policy: factory.id, sessions: scored, coldStartRate: scored ? cold / scored : 0, unusedMinutesPerSession: scored ? unused / scored : 0 };
  });
}

export interface TimingEvaluation {
  /** Sessions starting before this (seconds) are the training part; the rest are scored once. */
  splitAt: number;
  /** The adaptive policy's cost per unused minute, chosen on the training part. */
  chosen: { costPerMinute: number; training: TimingResult; hybridTraining: TimingResult };
  rows: TimingResult[];
}

/** The costs tried on the training part: from "a cold start is worth 2,000 unused minutes" to 125. */
export const costGrid = [0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.006, 0.008] as const;

/**
 * Honest evaluation: the adaptive policy's one knob is chosen on the first `trainFraction` of the
 * trace (the lowest cold-start rate whose unused time per session is no more than the hybrid
 * histogram's there), then every policy is scored once on the rest.
 */
export function evaluateTiming(
  streams: ReadonlyMap<string, readonly number[]>,
  make: { baselines: readonly TimingPolicyFactory[]; hybrid: TimingPolicyFactory; adaptive: (cost: number) => TimingPolicyFactory },
  trainFraction = 0.7,
): TimingEvaluation {
  let first = Infinity;
  let last = -Infinity;
  for (const t of streams.values()) if (t.length) ((first = Math.min(first, t[0]!)), (last = Math.max(last, t[t.length - 1]!)));
  const splitAt = first + (last - first) * trainFraction;
  const training = new Map([...streams].map(([k, v]) => [k, v.filter((t) => t < splitAt)] as const));
  const [hybridTraining] = replayTiming(training, [make.hybrid]);
  const tried = replayTiming(training, costGrid.map(make.adaptive)).map((r, i) => ({ r, cost: costGrid[i]! }));
  const within = tried.filter((t) => t.r.unusedMinutesPerSession <= hybridTraining!.unusedMinutesPerSession);
  const pick = (within.length ? within : tried).reduce((a, b) => (b.r.coldStartRate < a.r.coldStartRate ? b : a));
  const rows = replayTiming(streams, [...make.baselines, make.hybrid, make.adaptive(pick.cost)], splitAt);
  return { splitAt, chosen: { costPerMinute: pick.cost, training: pick.r, hybridTraining: hybridTraining! }, rows };
}
