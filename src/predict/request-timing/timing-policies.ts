/**
 * When to have a client's image prepared, as a window after its last session ended: prepared
 * from `from` to `to` minutes after the end (a session starting inside it finds its image; one
 * before `from` or after `to` is a cold start). Each policy learns online from the gaps between
 * one subject's sessions.
 */
/** Minutes after a session's end during which the image is kept prepared. */
export interface TimingWindow {
  from: number;
  to: number;
}

/** The windows a policy names after one session (`windowsOf`). */
export type Windows = readonly TimingWindow[];

export interface TimingPolicy {
  window(): TimingWindow;
  /**
   * A policy that knows the clock may prepare several windows after a session that ended at
   * `endSeconds` (trace seconds); when present it is used instead of `window()`.
   */
  intervals?(endSeconds: number): TimingWindow[];
  /** `startSeconds`: when the session that ended the gap started (for clock-aware policies). */
  observe(gapMinutes: number, startSeconds?: number): void;
  /** For policies that learn per program: the requests of a session that just ended (trace seconds, and the program each ran). */
  observeSession?(session: { times: readonly number[]; programs: readonly string[] }): void;
}

export type TimingPolicyFactory = { id: string; create(): TimingPolicy };

/** Fixed keep-alive: prepared for `minutes` after every session. */
export function keepAlive(minutes: number): TimingPolicyFactory {
  return { id: `keep-alive-${minutes / 60}h`, create: () => ({ window: () => ({ from: 0, to: minutes }), observe: () => undefined }) };
}

/**
 * The hybrid histogram policy of Shahrad et al. (ATC 2020): a per-subject histogram of idle
 * times in 1-minute bins over 4 hours; when it is representative (coefficient of variation of the
 * bin counts ≥ 2) the image is prepared from its 5th percentile −10 % to its 99th percentile +10 %;
 * otherwise (no history, a flat histogram, or most idle times beyond the range — where the paper
 * switches to ARIMA) it keeps the image for the whole range.
 */
export function hybridHistogram(options: { rangeMinutes?: number; cvThreshold?: number } = {}): TimingPolicyFactory {
  const range = options.rangeMinutes ?? 240;
  const cvThreshold = options.cvThreshold ?? 2;
  return {
    id: 'hybrid-histogram',
    create() {
      const bins = new Float64Array(range);
      let inRange = 0;
      let outOfRange = 0;
      return {
        window() {
          if (inRange === 0 || outOfRange > inRange) return { from: 0, to: range };
          const mean = inRange / range;
          let variance = 0;
          for (const b of bins) variance += (b - mean) ** 2;
          if (Math.sqrt(variance / range) / mean < cvThreshold) return { from: 0, to: range };
          const percentile = (q: number): number => {
            let acc = 0;
            for (let i = 0; i < range; i++) if ((acc += bins[i]!) >= q * inRange) return i;
            return range;
          };
          return { from: percentile(0.05) * 0.9, to: (percentile(0.99) + 1) * 1.1 };
        },
        observe(gap) {
          if (gap >= range) outOfRange++;
          else (bins[Math.floor(gap)]!++, inRange++);
        },
      };
    },
  };
}

/** Candidate window edges, in minutes after a session's end (up to three days). */
const edges = [0, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240, 360, 480, 720, 960, 1200, 1320, 1380, 1440, 1500, 1560, 1680, 1920, 2160, 2880, 4320];

/**
 * Ours: the window that minimises, on the subject's own last `memory` gaps, the share of cold
 * starts plus `costPerMinute` × the prepared-but-unused minutes per session. `costPerMinute` is the
 * one knob (how much a cold start is worth in unused minutes); it is chosen on training parts.
 * Until a subject has `minGaps` gaps it keeps the image 4 hours.
 */
export function adaptiveWindow(costPerMinute: number, options: { memory?: number; minGaps?: number } = {}): TimingPolicyFactory {
  const memory = options.memory ?? 200;
  const minGaps = options.minGaps ?? 5;
  return {
    id: `adaptive-window(${costPerMinute})`,
    create() {
      const gaps: number[] = [];
      let cached: TimingWindow | undefined;
      return {
        window() {
          if (gaps.length < minGaps) return { from: 0, to: 240 };
          return (cached ??= bestWindow(gaps.slice(-memory), costPerMinute));
        },
        observe(gap) {
          gaps.push(gap);
          cached = undefined;
        },
      };
    },
  };
}

function bestWindow(gaps: readonly number[], costPerMinute: number): TimingWindow {
  const sorted = [...gaps].sort((a, b) => a - b);
  const n = sorted.length;
  // Prefix sums over the sorted gaps make every candidate window O(log n).
  const prefix = new Float64Array(n + 1);
  sorted.forEach((g, i) => (prefix[i + 1] = prefix[i]! + g));
  const below = (x: number): number => {
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  let best = { cost: Infinity, from: 0, to: 240 };
  for (let i = 0; i < edges.length; i++) {
    const a = edges[i]!;
    const ia = below(a);
    for (let j = i + 1; j < edges.length; j++) {
      const b = edges[j]!;
      const ib = below(b + 1e-9); // gaps ≤ b are inside
      const warm = ib - ia;
      const unused = prefix[ib]! - prefix[ia]! - warm * a + (n - ib) * (b - a);
      const cost = (n - warm) / n + (costPerMinute * unused) / n;
      if (cost < best.cost) best = { cost, from: a, to: b };
    }
  }
  return { from: best.from, to: best.to };
}
