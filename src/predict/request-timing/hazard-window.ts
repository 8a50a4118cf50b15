import { sessionsOf, type Session } from './evaluate-timing.js';
import type { GapFeature } from './gap-features.js';
import type { TimingPolicyFactory, TimingWindow } from './timing-policies.js';

/** Bins of the time since a session ended, in minutes (the last one ends at three days); every edge is a multiple of the step. */
export const hazardBinEdges = [0, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240, 360, 480, 600, 720, 960, 1200, 1320, 1380, 1410, 1440, 1470, 1500, 1560, 1680, 1920, 2160, 2520, 2880, 3600, 4320];
export const hazardStepMinutes = 5;
const binEdges = hazardBinEdges;
const stepMinutes = hazardStepMinutes;
const horizonMinutes = binEdges[binEdges.length - 1]!;
const bins = binEdges.length - 1;
/** The bin of each step of the horizon, computed once. */
export const binOfStep = Array.from({ length: horizonMinutes / stepMinutes }, (_, s) => {
  let k = 0;
  while (s * stepMinutes >= binEdges[k + 1]!) k++;
  return k;
});

export interface HazardWindowOptions {
  /** Gaps remembered per subject. */
  memory?: number;
  /** Until a subject has this many gaps it keeps its image 4 hours. */
  minGaps?: number;
  /** Pseudo-minutes at risk (at the prior's hazard) added to every bin: shrinks a thin bin to the prior. */
  smoothingMinutes?: number;
  /**
   * Width in hours of the clock buckets of the day (3: eight buckets) in which the subject's hazard
   * is also estimated — per bin of time since the end *and* bucket of the clock, shrunk to the
   * subject's own hazard of that bin. Absent: the clock is not used.
   */
  clockHours?: number;
  /** Pseudo-minutes at risk (at the subject's hazard of the bin) added to every clock cell. */
  clockSmoothingMinutes?: number;
  /** The population's hazard per bin (see pooledHazard): what a thin bin shrinks to instead of the subject's mean rate. */
  prior?: readonly number[];
  /**
   * Further information (gap-features.ts) as cells inside the clock's (or the bin's), each shrunk
   * with `featureSmoothingMinutes` (300) to its clock cell. Values from 0 to `featureValues` − 1 (10; larger ones count as the last).
   * The sessions it reads are rebuilt from the gaps observed (a first session's start is its end).
   */
  feature?: GapFeature;
  featureValues?: number;
  /** Names the feature in the policy's id. */
  featureId?: string;
  featureSmoothingMinutes?: number;
}

/** Starts per minute at risk in each bin, over every gap between sessions of every subject (a training part's request times). */
export function pooledHazard(streams: ReadonlyMap<string, readonly number[]>): number[] {
  const events = new Float64Array(bins);
  const exposure = new Float64Array(bins);
  for (const times of streams.values()) {
    const sessions = sessionsOf(times);
    for (let i = 1; i < sessions.length; i++) addGap((sessions[i]!.start - sessions[i - 1]!.end) / 60, events, exposure, 1);
  }
  return [...events].map((e, k) => e / Math.max(1, exposure[k]!));
}

function addGap(g: number, events: Float64Array, exposure: Float64Array, sign: 1 | -1): void {
  for (let k = 0; k < bins; k++) {
    const a = binEdges[k]!;
    if (g < a) break;
    exposure[k]! += sign * (Math.min(g, binEdges[k + 1]!) - a);
    if (g < binEdges[k + 1]!) events[k]! += sign;
  }
}

/**
 * Prepared where the next session is most likely per minute of waiting: the hazard of a start
 * `τ` minutes after the last session ended, estimated per subject as the empirical hazard of its
 * own gaps (starts in τ's bin over the minutes its gaps spent there), shrunk to the population's.
 * With `clockHours` the same is estimated per bin and bucket of the clock (a subject back after
 * 14 hours in the morning, not in the night), shrunk to the subject's bin. Preparing a minute
 * costs its survival probability in unused time and buys its density in warm starts, so their
 * ratio — the hazard — is what ranks minutes, for one subject and across subjects (one threshold
 * for all spends unused time where a start is likeliest per minute); the image is prepared
 * wherever the hazard reaches `threshold`, which may be several windows. `threshold` is the knob
 * chosen on training parts — or a function read at every session's end, so that one controller
 * can set it for every subject as time goes on (budget-controller.ts).
 */
export function hazardWindow(threshold: number | (() => number), options: HazardWindowOptions = {}): TimingPolicyFactory {
  const thresholdNow = typeof threshold === 'number' ? () => threshold : threshold;
  const memory = options.memory ?? 200;
  const minGaps = options.minGaps ?? 5;
  const smoothing = options.smoothingMinutes ?? 300;
  const clockHours = options.clockHours;
  const buckets = clockHours ? Math.ceil(24 / clockHours) : 1;
  const clockSmoothing = options.clockSmoothingMinutes ?? 1000;
  const bucketOf = (seconds: number): number => (clockHours ? Math.floor((Math.floor(seconds / 3600) % 24) / clockHours) : 0);
  const feature = options.feature;
  const values = feature ? (options.featureValues ?? 10) : 1;
  const featureSmoothing = options.featureSmoothingMinutes ?? 300;
  // A value past the last would land in the next cell's counts: the last value takes it.
  const valueOf = (at: (minute: number, atSeconds: number) => number, t: number, seconds: number): number => Math.min(values - 1, Math.max(0, at(t, seconds)));
  return {
    id: `${clockHours ? 'hazard-clock-window' : 'hazard-window'}(${typeof threshold === 'number' ? threshold : 'shared'})${options.feature ? `+${options.featureId ?? 'feature'}` : ''}`,
    create() {
      const remembered: { gap: number; end: number; at?: (minute: number, atSeconds: number) => number }[] = [];
      // The subject's sessions as far as the gaps tell (for the feature); the last one's end is set when it ends.
      const sessions: Session[] = [];
      const featureEvents = feature ? new Float64Array(bins * buckets * values) : undefined;
      const featureExposure = feature ? new Float64Array(bins * buckets * values) : undefined;
      const events = new Float64Array(bins);
      const exposure = new Float64Array(bins);
      const cellEvents = new Float64Array(bins * buckets);
      const cellExposure = new Float64Array(bins * buckets);
      let totalMinutes = 0;
      let hazard: Float64Array | undefined;
      // Counts are kept incrementally (a gap in, the oldest out), so a fit is one pass over the cells.
      const count = (gap: number, end: number, sign: 1 | -1, at?: (minute: number, atSeconds: number) => number): void => {
        addGap(gap, events, exposure, sign);
        totalMinutes += sign * Math.min(gap, horizonMinutes);
        if (at)
          for (let s = 0; s < binOfStep.length && s * stepMinutes <= gap; s++) {
            const t = s * stepMinutes;
            const cell = (binOfStep[s]! * buckets + bucketOf(end + t * 60)) * values + valueOf(at, t, end + t * 60);
            featureExposure![cell]! += sign * (Math.min(gap, t + stepMinutes) - t);
            if (gap < t + stepMinutes) featureEvents![cell]! += sign;
          }
        if (!clockHours) return;
        // `≤ gap`: a gap ending exactly on a step's start is that step's event (as in addGap).
        for (let s = 0; s < binOfStep.length && s * stepMinutes <= gap; s++) {
          const t = s * stepMinutes;
          const cell = binOfStep[s]! * buckets + bucketOf(end + t * 60);
          cellExposure[cell]! += sign * (Math.min(gap, t + stepMinutes) - t);
          if (gap < t + stepMinutes) cellEvents[cell]! += sign;
        }
      };
      const fit = (): Float64Array => {
        const mean = remembered.length / Math.max(1, totalMinutes);
        const h = new Float64Array(bins * buckets);
        for (let k = 0; k < bins; k++) {
          const own = (events[k]! + smoothing * (options.prior?.[k] ?? mean)) / (exposure[k]! + smoothing);
          for (let c = 0; c < buckets; c++) {
            const i = k * buckets + c;
            h[i] = clockHours ? (cellEvents[i]! + clockSmoothing * own) / (cellExposure[i]! + clockSmoothing) : own;
          }
        }
        if (!featureEvents) return h;
        const hf = new Float64Array(bins * buckets * values);
        for (let i = 0; i < hf.length; i++) {
          const parent = h[Math.floor(i / values)]!;
          hf[i] = (featureEvents[i]! + featureSmoothing * parent) / (featureExposure![i]! + featureSmoothing);
        }
        return hf;
      };
      return {
        window: () => ({ from: 0, to: 240 }),
        intervals(endSeconds: number) {
          if (remembered.length < minGaps) return [{ from: 0, to: 240 }];
          hazard ??= fit();
          const last = sessions[sessions.length - 1];
          if (last) last.end = endSeconds;
          const at = feature && sessions.length ? feature({ sessions, index: sessions.length }) : undefined;
          const out: TimingWindow[] = [];
          const threshold = thresholdNow();
          for (let s = 0; s < binOfStep.length; s++) {
            const t = s * stepMinutes;
            const cell = binOfStep[s]! * buckets + bucketOf(endSeconds + t * 60);
            if (hazard[feature ? cell * values + (at ? valueOf(at, t, endSeconds + t * 60) : 0) : cell]! < threshold) continue;
            const last = out[out.length - 1];
            if (last && last.to === t) last.to = t + stepMinutes;
            else out.push({ from: t, to: t + stepMinutes });
          }
          return out;
        },
        observe(gap: number, startSeconds?: number) {
          const end = (startSeconds ?? 0) - gap * 60;
          let at: ((minute: number, atSeconds: number) => number) | undefined;
          if (feature) {
            const last = sessions[sessions.length - 1];
            if (last) last.end = end;
            else sessions.push({ start: end, end });
            at = feature({ sessions, index: sessions.length });
            sessions.push({ start: startSeconds ?? 0, end: startSeconds ?? 0 });
            // Enough history for any feature here (a week of days), not the whole trace.
            if (sessions.length > 4 * memory) sessions.splice(0, sessions.length - 4 * memory);
          }
          remembered.push({ gap, end, ...(at ? { at } : {}) });
          count(gap, end, 1, at);
          if (remembered.length > memory) {
            const old = remembered.shift()!;
            count(old.gap, old.end, -1, old.at);
          }
          hazard = undefined;
        },
      };
    },
  };
}
