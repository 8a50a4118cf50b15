import { sessionsOf } from './evaluate-timing.js';
import type { TimingPolicyFactory } from './timing-policies.js';

/** Bins of the time since a session ended, in minutes (the last one ends at three days). */
const binEdges = [0, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240, 360, 480, 600, 720, 960, 1200, 1320, 1380, 1410, 1440, 1470, 1500, 1560, 1680, 1920, 2160, 2520, 2880, 3600, 4320];
const stepMinutes = 5;
const horizonMinutes = binEdges[binEdges.length - 1]!;

export interface HazardWindowOptions {
  /** Gaps and session starts remembered per subject. */
  memory?: number;
  /** Until a subject has this many gaps it keeps its image 4 hours. */
  minGaps?: number;
  /** Pseudo-minutes at risk (at the subject's own mean rate) added to every bin: shrinks a thin bin to the mean. */
  smoothingMinutes?: number;
  /** Pseudo-starts spread evenly over the hours of the day (Infinity, the default: the clock is not used — it did not help on the training parts). */
  hourPrior?: number;
  /** The population's hazard per bin (see pooledHazard): what a thin bin shrinks to instead of the subject's mean rate. */
  prior?: readonly number[];
}

/** Starts per minute at risk in each bin, over every gap between sessions of every subject (a training part's request times). */
export function pooledHazard(streams: ReadonlyMap<string, readonly number[]>): number[] {
  const events = new Float64Array(binEdges.length - 1);
  const exposure = new Float64Array(binEdges.length - 1);
  for (const times of streams.values()) {
    const sessions = sessionsOf(times);
    for (let i = 1; i < sessions.length; i++) addGap((sessions[i]!.start - sessions[i - 1]!.end) / 60, events, exposure);
  }
  return [...events].map((e, k) => e / Math.max(1, exposure[k]!));
}

function addGap(g: number, events: Float64Array, exposure: Float64Array): void {
  for (let k = 0; k < events.length; k++) {
    const a = binEdges[k]!;
    const b = binEdges[k + 1]!;
    if (g < a) break;
    exposure[k]! += Math.min(g, b) - a;
    if (g < b) events[k]!++;
  }
}

/**
 * Prepared where the next session is most likely per minute of waiting: the hazard of a start,
 * `τ` minutes after the last session ended and at clock hour `c`, estimated per subject as the
 * empirical hazard of its own gaps (starts in τ's bin over the minutes its gaps spent there) times
 * how much more often than average it starts sessions in hour `c`. Preparing a minute costs its
 * survival probability in unused time and buys its density in warm starts, so their ratio — the
 * hazard — is what ranks minutes; the image is prepared wherever it reaches `threshold` (per
 * minute), which may be several windows (a regular return and tomorrow morning's start).
 * `threshold` is the one knob, chosen on training parts.
 */
export function hazardWindow(threshold: number, options: HazardWindowOptions = {}): TimingPolicyFactory {
  const memory = options.memory ?? 200;
  const minGaps = options.minGaps ?? 5;
  const smoothing = options.smoothingMinutes ?? 300;
  const hourPrior = options.hourPrior ?? Infinity;
  return {
    id: `hazard-window(${threshold})`,
    create() {
      const gaps: number[] = [];
      const starts: number[] = [];
      let hazard: Float64Array | undefined;
      let hourFactor: Float64Array | undefined;
      const fit = (): void => {
        const recent = gaps.slice(-memory);
        const events = new Float64Array(binEdges.length - 1);
        const exposure = new Float64Array(binEdges.length - 1);
        let total = 0;
        for (const g of recent) {
          total += Math.min(g, horizonMinutes);
          addGap(g, events, exposure);
        }
        const mean = recent.length / Math.max(1, total);
        hazard = events.map((e, k) => (e + smoothing * (options.prior?.[k] ?? mean)) / (exposure[k]! + smoothing));
        const hours = new Float64Array(24).fill(1);
        if (Number.isFinite(hourPrior)) {
          hours.fill(hourPrior / 24);
          const recentStarts = starts.slice(-memory);
          for (const s of recentStarts) hours[Math.floor(s / 3600) % 24]!++;
          const n = recentStarts.length + hourPrior;
          for (let h = 0; h < 24; h++) hours[h] = (24 * hours[h]!) / n;
        }
        hourFactor = hours;
      };
      return {
        window: () => ({ from: 0, to: 240 }),
        intervals(endSeconds: number) {
          if (gaps.length < minGaps) return [{ from: 0, to: 240 }];
          if (!hazard) fit();
          const out: { from: number; to: number }[] = [];
          let k = 0;
          for (let t = 0; t < horizonMinutes; t += stepMinutes) {
            while (t >= binEdges[k + 1]!) k++;
            const hour = Math.floor((endSeconds + t * 60) / 3600) % 24;
            if (hazard![k]! * hourFactor![hour]! < threshold) continue;
            const last = out[out.length - 1];
            if (last && last.to === t) last.to = t + stepMinutes;
            else out.push({ from: t, to: t + stepMinutes });
          }
          return out;
        },
        observe(gap: number, startSeconds?: number) {
          gaps.push(gap);
          if (startSeconds !== undefined) starts.push(startSeconds);
          hazard = undefined;
        },
      };
    },
  };
}
