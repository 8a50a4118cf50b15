import type { TimingPolicyFactory, TimingWindow } from './timing-policies.js';
import { sessionGapSeconds, windowsOf } from './evaluate-timing.js';

export interface PeriodicJobsOptions {
  /** Minutes prepared either side of a periodic program's next expected run. */
  halfWidthMinutes?: number;
  /** How much two successive periods of one program may differ (share of the period; at least a minute) to count as one period. */
  tolerance?: number;
  /** Runs a periodic program may have skipped and still be expected. */
  maxMissed?: number;
}

const horizonMinutes = 3 * 24 * 60;

/**
 * Cron-like programs: many Borg submitters run the same program at a fixed period. Per program of
 * the subject, the last three runs; when its last two periods agree (within `tolerance`) and are
 * longer than a session gap, its next run (the first multiple of the period after the session
 * ended) gets a narrow window of its own, added to what `inner` prepares. The window is a few
 * minutes wide where a hazard over bins of time would have to cover the whole bin.
 */
export function withPeriodicJobs(inner: TimingPolicyFactory, options: PeriodicJobsOptions = {}): TimingPolicyFactory {
  const w = options.halfWidthMinutes ?? 2;
  const tolerance = options.tolerance ?? 0.02;
  const maxMissed = options.maxMissed ?? 1;
  return {
    id: `${inner.id}+periodic-jobs`,
    create() {
      const base = inner.create();
      const runs = new Map<string, number[]>();
      return {
        window: () => base.window(),
        intervals(endSeconds: number) {
          const own = windowsOf(base, endSeconds);
          const windows = own.map((x) => ({ ...x }));
          for (const r of runs.values()) {
            if (r.length < 3) continue;
            const period = r[2]! - r[1]!;
            if (period <= sessionGapSeconds || Math.abs(period - (r[1]! - r[0]!)) > Math.max(60, tolerance * period)) continue;
            const k = Math.max(1, Math.ceil((endSeconds - r[2]!) / period));
            if (k > maxMissed + 1) continue;
            const at = (r[2]! + k * period - endSeconds) / 60;
            if (at - w >= horizonMinutes) continue;
            windows.push({ from: Math.max(0, at - w), to: at + w });
          }
          return union(windows);
        },
        observe: (gap, start) => base.observe(gap, start),
        observeSession(session) {
          base.observeSession?.(session);
          session.programs.forEach((program, i) => {
            const r = runs.get(program) ?? [];
            r.push(session.times[i]!);
            if (r.length > 3) r.shift();
            runs.set(program, r);
          });
        },
      };
    },
  };
}

/** Overlapping windows merged, so no prepared minute is counted twice. */
function union(windows: TimingWindow[]): TimingWindow[] {
  windows.sort((a, b) => a.from - b.from);
  const out: TimingWindow[] = [];
  for (const x of windows) {
    const last = out[out.length - 1];
    if (last && x.from <= last.to) last.to = Math.max(last.to, x.to);
    else out.push({ ...x });
  }
  return out;
}
