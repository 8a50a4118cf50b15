import { observeSessionOf, scoreGap, sessionSpans, windowsOf, type ProgramsBySubject } from './evaluate-timing.js';
import type { TimingPolicyFactory, Windows } from './timing-policies.js';

/**
 * Proactive builds with a bounded number of workers. After each session a timing policy names
 * when the client's image should be ready (its window); a build of `buildMinutes` is released so
 * as to finish as the window opens (or at once, when the window opens sooner), and a worker takes
 * it if it can still start before the window closes and before the client is back. When more
 * builds are due than workers, `order` decides: `earliest-deadline` (the build that must start
 * soonest) or `most-expected` (the client most likely to return inside its window — the share of
 * its last 50 gaps the window would have caught — then the deadline).
 *
 * A session is a **hit** when its client's image was built before it started and it started inside
 * the window; **lead time** is how long the fresh image waited for it; a **wasted build** is one
 * that finished and served no session (the client came later, or sooner than it finished).
 */
export const buildOrders = ['earliest-deadline', 'most-expected'] as const;
export type BuildOrder = (typeof buildOrders)[number];

export interface BuildScheduleOptions {
  workers: number;
  buildMinutes: number;
  order: BuildOrder;
  /** Only sessions starting at or after this (trace seconds) are scored; earlier ones still teach the policy. */
  scoreFrom?: number;
  /** What each request ran, for policies that learn per program. */
  programs?: ProgramsBySubject;
}

export interface BuildScheduleResult {
  policy: string;
  order: BuildOrder;
  workers: number;
  buildMinutes: number;
  sessions: number;
  hitRate: number;
  /** Median minutes a fresh image waited for its session (hits only). */
  medianLeadMinutes: number;
  builds: number;
  /** Share of finished builds that served no session. */
  wastedShare: number;
  /** Builds due that no worker could start in time. */
  missedForWorkers: number;
}

/** One build: what a policy's windows after a session ask for. */
export interface BuildJob {
  release: number;
  latestStart: number;
  nextStart: number;
  warm: boolean;
  expected: number;
  scored: boolean;
  /** The subject's place in the streams and the session that ended: the order of builds released together. */
  subject: number;
  session: number;
  finish?: number;
}

/** Minutes from a session's end to the next start (the gap every replay scores and teaches). */
export const gapMinutes = (endSeconds: number, startSeconds: number): number => (startSeconds - endSeconds) / 60;

/**
 * The build the windows named at a session's end ask for: released to
 * finish as the earliest window opens, latest start so as to finish as the last one closes; warm
 * when the next session starts inside one; `recentGaps`: the subject's gaps so far (its last 50 say
 * how often such windows caught it). Windows named none: the session still counts, nothing is
 * built for it (never released) — a policy that names nothing is not excused from the hit rate.
 */
export function buildJobOf(o: {
  endSeconds: number;
  nextStartSeconds: number;
  windows: Windows;
  recentGaps: readonly number[];
  scored: boolean;
  buildMinutes: number;
  subject: number;
  session: number;
}): BuildJob {
  const end = o.endSeconds / 60;
  const gap = gapMinutes(o.endSeconds, o.nextStartSeconds);
  const from = Math.min(...o.windows.map((w) => w.from));
  const to = Math.max(...o.windows.map((w) => w.to));
  const inside = (g: number): boolean => scoreGap(o.windows, g).warm;
  const recent = o.recentGaps.slice(-50);
  if (o.windows.length === 0) return { release: Infinity, latestStart: -Infinity, nextStart: end + gap, warm: false, expected: 0, scored: o.scored, subject: o.subject, session: o.session };
  return {
    release: Math.max(end, end + from - o.buildMinutes),
    latestStart: end + to - o.buildMinutes,
    nextStart: end + gap,
    warm: inside(gap),
    expected: recent.length ? recent.filter(inside).length / recent.length : 0,
    scored: o.scored,
    subject: o.subject,
    session: o.session,
  };
}

export function scheduleBuilds(streams: ReadonlyMap<string, readonly number[]>, factory: TimingPolicyFactory, options: BuildScheduleOptions): BuildScheduleResult {
  const scoreFrom = options.scoreFrom ?? -Infinity;
  const jobs: BuildJob[] = [];
  let subject = 0;
  for (const [id, times] of streams) {
    const sessions = sessionSpans(times);
    const ran = options.programs?.get(id);
    const policy = factory.create();
    if (sessions[0]) observeSessionOf(policy, times, ran, sessions[0]);
    const gaps: number[] = [];
    for (let i = 1; i < sessions.length; i++) {
      const endSeconds = sessions[i - 1]!.end;
      const windows = windowsOf(policy, endSeconds);
      jobs.push(buildJobOf({ endSeconds, nextStartSeconds: sessions[i]!.start, windows, recentGaps: gaps, scored: sessions[i]!.start >= scoreFrom, buildMinutes: options.buildMinutes, subject, session: i - 1 }));
      const gap = gapMinutes(endSeconds, sessions[i]!.start);
      gaps.push(gap);
      policy.observe(gap, sessions[i]!.start);
      observeSessionOf(policy, times, ran, sessions[i]!);
    }
    subject++;
  }
  return runBuilds(jobs, factory.id, options);
}

/** The builds on the bounded workers, and their figures (the one owner of the drop, hit, lead and waste rules). */
export function runBuilds(jobs: BuildJob[], policy: string, options: Pick<BuildScheduleOptions, 'workers' | 'buildMinutes' | 'order'>): BuildScheduleResult {
  // Released together: in stream order (the same however the jobs were gathered).
  jobs.sort((a, b) => a.release - b.release || a.subject - b.subject || a.session - b.session);
  for (const j of jobs) delete j.finish;
  const free = new Float64Array(options.workers);
  const queue: BuildJob[] = [];
  let next = 0;
  let missedForWorkers = 0;
  const better = options.order === 'most-expected' ? (a: BuildJob, b: BuildJob) => b.expected - a.expected || a.latestStart - b.latestStart : (a: BuildJob, b: BuildJob) => a.latestStart - b.latestStart;
  // Event time: the next release, or the next worker to come free while builds wait.
  let t = jobs[0]?.release ?? 0;
  while (next < jobs.length || queue.length > 0) {
    while (next < jobs.length && jobs[next]!.release <= t) queue.push(jobs[next++]!);
    // A build that can no longer start in time, or whose client is already back, is dropped.
    for (let i = queue.length - 1; i >= 0; i--) {
      const j = queue[i]!;
      if (j.latestStart < t || j.nextStart <= t) {
        if (j.warm && j.nextStart > t && j.scored) missedForWorkers++;
        queue.splice(i, 1);
      }
    }
    queue.sort(better);
    for (let w = 0; w < free.length && queue.length > 0; w++) {
      if (free[w]! > t) continue;
      const j = queue.shift()!;
      j.finish = t + options.buildMinutes;
      free[w] = j.finish;
    }
    // Sessions with no window sort last, released never.
    const nextRelease = next < jobs.length ? jobs[next]!.release : Infinity;
    const nextFree = queue.length > 0 ? Math.min(...free.filter((f) => f > t)) : Infinity;
    const after = Math.min(nextRelease, nextFree);
    if (!Number.isFinite(after)) break;
    t = Math.max(t, after);
  }
  const scored = jobs.filter((j) => j.scored);
  const built = scored.filter((j) => j.finish !== undefined);
  const hits = built.filter((j) => j.warm && j.finish! <= j.nextStart);
  const leads = hits.map((j) => j.nextStart - j.finish!).sort((a, b) => a - b);
  return {
    policy,
    order: options.order,
    workers: options.workers,
    buildMinutes: options.buildMinutes,
    sessions: scored.length,
    hitRate: scored.length ? hits.length / scored.length : 0,
    medianLeadMinutes: leads.length ? leads[leads.length >> 1]! : 0,
    builds: built.length,
    wastedShare: built.length ? (built.length - hits.length) / built.length : 0,
    missedForWorkers,
  };
}
