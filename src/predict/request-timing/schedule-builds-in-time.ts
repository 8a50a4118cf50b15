import { buildJobOf, gapMinutes, runBuilds, type BuildJob, type BuildScheduleOptions, type BuildScheduleResult } from './build-schedule.js';
import { sessionSpans } from './evaluate-timing.js';
import { replayInTime, type ReplayInTimeOptions } from './replay-in-time.js';
import type { TimingPolicyFactory } from './timing-policies.js';

export type InTimeBuildOptions = BuildScheduleOptions & Pick<ReplayInTimeOptions, 'budget' | 'id'>;

/**
 * scheduleBuilds driven by the time-ordered replay: the windows each subject's policy names at a
 * session's end, at that moment (under a budget controller, with the threshold of that moment: it
 * moves only on sessions settled across every subject), become builds on the same workers with the
 * same rules (build-schedule.ts). For policies that learn per subject it gives scheduleBuilds'
 * figures exactly; it exists for the controller, whose threshold a per-subject replay cannot know.
 */
export function scheduleBuildsInTime(streams: ReadonlyMap<string, readonly number[]>, factory: TimingPolicyFactory, options: InTimeBuildOptions): BuildScheduleResult {
  const scoreFrom = options.scoreFrom ?? -Infinity;
  const spans = [...streams.values()].map((times) => sessionSpans(times));
  // Each subject's gaps so far, filled as its sessions end (the replay only reaches a session's end after its start).
  const gaps = spans.map(() => [] as number[]);
  const jobs: BuildJob[] = [];
  replayInTime(streams, factory, {
    scoreFrom,
    ...(options.programs ? { programs: options.programs } : {}),
    ...(options.budget ? { budget: options.budget } : {}),
    onWindows: ({ subject, session, endSeconds, windows }) => {
      const s = spans[subject]!;
      const g = gaps[subject]!;
      while (g.length < session) g.push(gapMinutes(s[g.length]!.end, s[g.length + 1]!.start));
      const nextStartSeconds = s[session + 1]!.start;
      jobs.push(buildJobOf({ endSeconds, nextStartSeconds, windows, recentGaps: g, scored: nextStartSeconds >= scoreFrom, buildMinutes: options.buildMinutes, subject, session }));
    },
  });
  return runBuilds(jobs, options.id ?? factory.id, options);
}
