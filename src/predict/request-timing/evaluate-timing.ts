import type { TimingPolicy, TimingPolicyFactory, Windows } from './timing-policies.js';

/** A session: requests with no gap longer than this between them. */
export const sessionGapSeconds = 30 * 60;

export interface Session {
  start: number;
  end: number;
}

export function sessionsOf(times: readonly number[]): Session[] {
  return sessionSpans(times).map(({ start, end }) => ({ start, end }));
}

/** A session with the indices of its first and last request in the subject's sorted times. */
export interface SessionSpan extends Session {
  first: number;
  last: number;
}

export function sessionSpans(times: readonly number[]): SessionSpan[] {
  const out: SessionSpan[] = [];
  times.forEach((t, i) => {
    const last = out[out.length - 1];
    if (last && t - last.end <= sessionGapSeconds) ((last.end = t), (last.last = i));
    else out.push({ start: t, end: t, first: i, last: i });
  });
  return out;
}

/** Per subject, the program each request ran, index for index with its times (see readRequestLog). */
export type ProgramsBySubject = ReadonlyMap<string, readonly string[]>;

/** Tells a policy that learns per program what the session that just ended ran. */
export function observeSessionOf(policy: TimingPolicy, times: readonly number[], programs: readonly string[] | undefined, s: SessionSpan): void {
  if (!policy.observeSession || !programs) return;
  policy.observeSession({ times: times.slice(s.first, s.last + 1), programs: programs.slice(s.first, s.last + 1) });
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
export function replayTiming(streams: ReadonlyMap<string, readonly number[]>, policies: readonly TimingPolicyFactory[], scoreFrom = -Infinity, programs?: ProgramsBySubject): TimingResult[] {
  const subjects = [...streams].map(([id, times]) => ({ times, programs: programs?.get(id), sessions: sessionSpans(times) }));
  return policies.map((factory) => {
    let scored = 0;
    let cold = 0;
    let unused = 0;
    for (const { times, programs: ran, sessions } of subjects) {
      const policy = factory.create();
      if (sessions[0]) observeSessionOf(policy, times, ran, sessions[0]);
      for (let i = 1; i < sessions.length; i++) {
        const gap = (sessions[i]!.start - sessions[i - 1]!.end) / 60;
        if (sessions[i]!.start >= scoreFrom) {
          scored++;
          const { warm, unused: spent } = scoreGap(windowsOf(policy, sessions[i - 1]!.end), gap);
          for (const x of spent) unused += x;
          if (!warm) cold++;
        }
        policy.observe(gap, sessions[i]!.start);
        observeSessionOf(policy, times, ran, sessions[i]!);
      }
    }
    return { policy: factory.id, sessions: scored, coldStartRate: scored ? cold / scored : 0, unusedMinutesPerSession: scored ? unused / scored : 0 };
  });
}

/** A policy's windows after a session that ended at `endSeconds`. */
export const windowsOf = (p: TimingPolicy, endSeconds: number): Windows => (p.intervals ? p.intervals(endSeconds) : [p.window()]);

/**
 * The metric's rule for one gap (minutes): warm when it falls in a window; unused, per window, the
 * minutes prepared before the start (or the whole window when the start came after it).
 */
export function scoreGap(windows: Windows, gap: number): { warm: boolean; unused: number[] } {
  let warm = false;
  const unused: number[] = [];
  for (const { from, to } of windows) {
    if (gap >= from && gap <= to) warm = true;
    if (gap > from) unused.push(Math.min(gap, to) - from);
  }
  return { warm, unused };
}

/**
 * The rule every knob is chosen by: the lowest cold-start rate among the tried whose unused time per
 * session is no more than the hybrid histogram's (`hybrid`, on the same sessions); when none is,
 * the lowest of all.
 */
export function chooseWithinBudget<T extends { r: TimingResult }>(tried: readonly T[], hybrid: TimingResult): T {
  const within = tried.filter((t) => t.r.unusedMinutesPerSession <= hybrid.unusedMinutesPerSession);
  return (within.length ? within : tried).reduce((a, b) => (b.r.coldStartRate < a.r.coldStartRate ? b : a));
}

export interface TimingEvaluation {
  /** Sessions starting before this (seconds) are the training part; the rest are scored once. */
  splitAt: number;
  /** Knobs are chosen on the sessions of the training part starting at or after this (seconds). */
  validateFrom: number;
  /** The adaptive policy's cost per unused minute, chosen on the validation part (`training`: its figures there). */
  chosen: { costPerMinute: number; training: TimingResult; hybridTraining: TimingResult };
  /** Each further learnt policy's knob, chosen on the training part by the same rule. */
  chosenOthers: { id: string; knob: number; training: TimingResult }[];
  rows: TimingResult[];
}

/** The costs tried on the training part: from "a cold start is worth 2,000 unused minutes" to 125. */
export const costGrid = [0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.006, 0.008] as const;

/** A policy with one knob to choose on the training part. */
export interface LearntPolicy {
  grid: readonly number[];
  /** `training`: the training part's streams (for priors pooled over subjects). */
  make: (knob: number, training: ReadonlyMap<string, readonly number[]>) => TimingPolicyFactory;
}

export interface EvaluateTimingOptions {
  /** The share of the trace's span that is the training part (the rest is scored once). */
  trainFraction?: number;
  /**
   * The share of the span, at the end of the training part, on which knobs are chosen (rolling
   * origin: the policies learn from every gap before, as they will before the test part). The
   * whole training part (`trainFraction`) also scores the first weeks, when every policy still has
   * little history and the hybrid histogram spends less than it does later.
   */
  validationFraction?: number;
  /** What each request ran, for policies that learn per program (the training part's are the same arrays, cut by time). */
  programs?: ProgramsBySubject;
}

/**
 * The training part of request streams: every request before `splitAt`, the point `trainFraction`
 * of the way through the span of all of them (the test part is the rest, by time, for every user).
 */
export function trainingPartOf(streams: ReadonlyMap<string, readonly number[]>, trainFraction = 0.7): { splitAt: number; training: Map<string, number[]>; first: number; last: number } {
  let first = Infinity;
  let last = -Infinity;
  for (const t of streams.values()) if (t.length) ((first = Math.min(first, t[0]!)), (last = Math.max(last, t[t.length - 1]!)));
  const splitAt = first + (last - first) * trainFraction;
  return { splitAt, training: new Map([...streams].map(([k, v]) => [k, v.filter((t) => t < splitAt)] as const)), first, last };
}

/**
 * Honest evaluation: each learnt policy's one knob is chosen on the validation part — the last
 * `validationFraction` of the span before the test part — as the lowest cold-start rate whose
 * unused time per session is no more than the hybrid histogram's there; then every policy is
 * scored once on the rest of the trace.
 */
export function evaluateTiming(
  streams: ReadonlyMap<string, readonly number[]>,
  make: { baselines: readonly TimingPolicyFactory[]; hybrid: TimingPolicyFactory; adaptive: (cost: number) => TimingPolicyFactory; others?: readonly LearntPolicy[] },
  options: EvaluateTimingOptions = {},
): TimingEvaluation {
  const trainFraction = options.trainFraction ?? 0.7;
  const validationFraction = options.validationFraction ?? 0.15;
  const programs = options.programs;
  const { splitAt, training, first, last } = trainingPartOf(streams, trainFraction);
  const validateFrom = first + (last - first) * Math.max(0, trainFraction - validationFraction);
  const [hybridTraining] = replayTiming(training, [make.hybrid], validateFrom, programs);
  const choose = (learnt: LearntPolicy): { knob: number; r: TimingResult } => {
    const tried = replayTiming(training, learnt.grid.map((k) => learnt.make(k, training)), validateFrom, programs).map((r, i) => ({ r, knob: learnt.grid[i]! }));
    return chooseWithinBudget(tried, hybridTraining!);
  };
  const pick = choose({ grid: costGrid, make: make.adaptive });
  const others = (make.others ?? []).map((o) => ({ o, ...choose(o) }));
  const rows = replayTiming(streams, [...make.baselines, make.hybrid, ...others.map((x) => x.o.make(x.knob, training)), make.adaptive(pick.knob)], splitAt, programs);
  return {
    splitAt,
    validateFrom,
    chosen: { costPerMinute: pick.knob, training: pick.r, hybridTraining: hybridTraining! },
    chosenOthers: others.map((x) => ({ id: x.o.make(x.knob, training).id, knob: x.knob, training: x.r })),
    rows,
  };
}
