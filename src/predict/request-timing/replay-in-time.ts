import type { BudgetController } from './budget-controller.js';
import { observeSessionOf, scoreGap, sessionSpans, windowsOf, type ProgramsBySubject, type TimingResult } from './evaluate-timing.js';
import type { TimingPolicyFactory, Windows } from './timing-policies.js';

export interface ReplayInTimeOptions {
  /** Only sessions starting at or after this (trace seconds) are scored; every one teaches. */
  scoreFrom?: number;
  programs?: ProgramsBySubject;
  /**
   * A controller shared by every subject: each settled session's unused minutes are told to it
   * with the budget for that session — the unused minutes `shadow` (replayed alongside, the same
   * sessions) prepared for it, or `minutesPerSession` (a number, or one per moment of the trace).
   */
  budget?: { controller: BudgetController; shadow?: TimingPolicyFactory; minutesPerSession?: number | ((atSeconds: number) => number) };
  /** The result's name (the factory's id otherwise). */
  id?: string;
  /** The windows named at each session's end (the subject's place in the streams, the session's index), in time order: for builds. */
  onWindows?: (w: { subject: number; session: number; endSeconds: number; windows: Windows }) => void;
  /** Every settled session, in time order: for tests and traces of the controller. */
  onSettle?: (s: { atSeconds: number; spentMinutes: number; budgetMinutes: number; threshold: number; scored: boolean }) => void;
}

/**
 * The replay of replayTiming, but in the order things happen across subjects: every session's end
 * (the policy learns what it ran, then names its windows) and every start (the gap is scored, then
 * learnt) of every subject, merged by time (a start before an end at the same second: a
 * one-request session starts before it ends). For policies that learn per subject it gives exactly
 * replayTiming's figures (its sums are taken in replayTiming's order); it exists for what is shared
 * across subjects at each moment — a budget controller's threshold, which moves only on sessions
 * already settled.
 */
export function replayInTime(streams: ReadonlyMap<string, readonly number[]>, factory: TimingPolicyFactory, options: ReplayInTimeOptions = {}): TimingResult {
  const scoreFrom = options.scoreFrom ?? -Infinity;
  const budget = options.budget;
  const fixed = budget?.minutesPerSession;
  const budgetAt = typeof fixed === 'function' ? fixed : () => fixed ?? 0;
  const subjects = [...streams].map(([id, times]) => ({
    times,
    ran: options.programs?.get(id),
    sessions: sessionSpans(times),
    policy: factory.create(),
    shadow: budget?.shadow?.create(),
    pending: [] as Windows,
    shadowPending: [] as Windows,
    // Each unused contribution of a scored session, so the total is summed in replayTiming's order.
    unused: [] as number[],
  }));
  // Events: a start (kind 0) of every session after a subject's first, an end (kind 1) of every
  // session but its last (the last names no window: nothing after it is scored).
  let n = 0;
  for (const s of subjects) n += Math.max(0, 2 * s.sessions.length - 2);
  const time = new Float64Array(n);
  const kindOf = new Uint8Array(n);
  const subjectOf = new Int32Array(n);
  const sessionOf = new Int32Array(n);
  let e = 0;
  const push = (t: number, kind: 0 | 1, u: number, i: number): void => {
    ((time[e] = t), (kindOf[e] = kind), (subjectOf[e] = u), (sessionOf[e++] = i));
  };
  subjects.forEach((s, u) =>
    s.sessions.forEach((x, i) => {
      if (i > 0) push(x.start, 0, u, i);
      if (i < s.sessions.length - 1) push(x.end, 1, u, i);
    }),
  );
  const order = Array.from({ length: n }, (_, k) => k).sort((a, b) => time[a]! - time[b]! || kindOf[a]! - kindOf[b]! || subjectOf[a]! - subjectOf[b]! || sessionOf[a]! - sessionOf[b]!);
  let scored = 0;
  let cold = 0;
  for (const k of order) {
    const s = subjects[subjectOf[k]!]!;
    const i = sessionOf[k]!;
    const session = s.sessions[i]!;
    if (kindOf[k] === 1) {
      observeSessionOf(s.policy, s.times, s.ran, session);
      if (s.shadow) observeSessionOf(s.shadow, s.times, s.ran, session);
      s.pending = windowsOf(s.policy, session.end);
      if (s.shadow) s.shadowPending = windowsOf(s.shadow, session.end);
      options.onWindows?.({ subject: subjectOf[k]!, session: i, endSeconds: session.end, windows: s.pending });
      continue;
    }
    const gap = (session.start - s.sessions[i - 1]!.end) / 60;
    const ours = scoreGap(s.pending, gap);
    const isScored = session.start >= scoreFrom;
    if (isScored) {
      scored++;
      if (!ours.warm) cold++;
      s.unused.push(...ours.unused);
    }
    if (budget) {
      const spent = ours.unused.reduce((a, b) => a + b, 0);
      const allowed = s.shadow ? scoreGap(s.shadowPending, gap).unused.reduce((a, b) => a + b, 0) : budgetAt(session.start);
      budget.controller.settle(spent, allowed);
      options.onSettle?.({ atSeconds: session.start, spentMinutes: spent, budgetMinutes: allowed, threshold: budget.controller.threshold(), scored: isScored });
    }
    s.policy.observe(gap, session.start);
    s.shadow?.observe(gap, session.start);
  }
  let unused = 0;
  for (const s of subjects) for (const x of s.unused) unused += x;
  return { policy: options.id ?? factory.id, sessions: scored, coldStartRate: scored ? cold / scored : 0, unusedMinutesPerSession: scored ? unused / scored : 0 };
}
