import { AbortedError } from '../../core/errors.js';
import { averagedSettings, expectedShares, packageSetGrid, pooledShares, sharePerByte, type PackageSetParams } from './package-set.js';

/**
 * Software as a set for the image, backtested: at origins every `stride` launches, each policy
 * names the packages an image made now should carry; it is scored on the next `items` launches
 * (a "day" or a "week" of activity) as the share of launches whose program's package it carries,
 * against the mean bytes of those packages per image. Schonlau's commands carry no timestamps,
 * so a day is a block of 100 launches and a week 700 (the traces' 100-command blocks).
 *
 * The set predictor's settings (half-life, prior weight: the `averagedSettings` best of the grid,
 * averaged) and its share-per-byte threshold are chosen by rolling-origin validation on the
 * training part (origins `validationFrom` .. `trainItems − items`); the test part (origins from
 * `trainItems`, history revealed as it passes) is scored once with them.
 */
export interface SetHorizon {
  name: string;
  items: number;
}
export const setHorizons: readonly SetHorizon[] = [
  { name: 'day', items: 100 },
  { name: 'week', items: 700 },
];

export const setPolicies = ['package-set', 'most-frequent-programs', 'every-package-seen'] as const;
export type SetPolicy = (typeof setPolicies)[number];

/** Serving's threshold: the fewest bytes whose validation coverage is this close to every package seen's. */
export const servingTolerance = 0.005;

export interface PackageSetEvaluationOptions {
  /** Each subject's launches (program names), oldest first. */
  sequences: readonly (readonly string[])[];
  packageOf: (program: string) => string | undefined;
  /** Bytes an image adds for a package (see PackageSizes); undefined: not in the archive. */
  bytesOf: (pkg: string) => number | undefined;
  trainItems: number;
  testItems: number;
  validationFrom: number;
  stride: number;
  horizons?: readonly SetHorizon[];
  /** Points of the set predictor's curve, as shares of the bytes of "every package ever seen". */
  budgetShares?: readonly number[];
  topKs?: readonly number[];
  signal?: AbortSignal;
}

export interface CurvePoint {
  policy: SetPolicy;
  /** What sets the point: the byte budget's share, or k. */
  knob: string;
  meanBytes: number;
  /** meanBytes over the mean bytes of "every package ever seen" at the same origins. */
  bytesShare: number;
  coverage: number;
}

export interface PackageSetHorizonResult {
  horizon: string;
  items: number;
  origins: number;
  /** Launches scored (programs some package of known size serves). */
  launches: number;
  /** Share of the window's launches no package of the archive serves (shell built-ins, old programs): left out of coverage. */
  unservable: number;
  /** Each setting of the grid alone, on validation. */
  validation: { params: PackageSetParams; coverageAtHalf: number }[];
  /**
   * `settings`: the best `averagedSettings` of `validation`, whose shares are averaged;
   * `validationCoverageAtHalf`: that average's, on validation; `threshold`: share per byte serving
   * requires (the fewest bytes within servingTolerance of every package seen, on validation).
   */
  chosen: { settings: PackageSetParams[]; validationCoverageAtHalf: number; threshold: number };
  curve: CurvePoint[];
  /** Serving's threshold (chosen on the training part, see servingTolerance), applied as is to the test part. */
  atChosenThreshold: { meanBytes: number; bytesShare: number; coverage: number };
  /** `gap`: every package seen's coverage minus the set predictor's, at half the bytes (the acceptance: ≤ 0.01). */
  atHalf: { packageSet: number; mostFrequent: number; mostFrequentK: number; everySeen: number; gap: number; withinOnePoint: boolean };
}

export interface PackageSetEvaluation {
  trainItems: number;
  testItems: number;
  validationFrom: number;
  stride: number;
  subjects: number;
  horizons: PackageSetHorizonResult[];
}

interface Origin {
  subject: number;
  t: number;
}

interface Window {
  hits: Map<string, number>;
  launches: number;
  unservable: number;
  seen: Set<string>;
  seenBytes: number;
}

export function evaluatePackageSets(options: PackageSetEvaluationOptions): PackageSetEvaluation {
  const { trainItems, testItems, stride, validationFrom } = options;
  const known = (program: string): string | undefined => {
    const p = options.packageOf(program);
    return p !== undefined && options.bytesOf(p) !== undefined ? p : undefined;
  };
  const streams = options.sequences.map((s) => s.slice(0, trainItems + testItems).map(known));
  // Each subject's prior is the others' training parts: never its own future, never a test part.
  const priors = streams.map((_, i) => pooledShares(streams.filter((_, j) => j !== i).map((s) => s.slice(0, trainItems))));
  const bytes = (p: string): number => options.bytesOf(p) ?? 0;
  const budgetShares = options.budgetShares ?? [0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1];
  const topKs = options.topKs ?? [1, 2, 3, 5, 10, 15, 20, 30];

  const originsOf = (from: number, to: number, items: number): Origin[] => {
    const out: Origin[] = [];
    streams.forEach((s, subject) => {
      for (let t = from; t + items <= Math.min(to, s.length); t += stride) out.push({ subject, t });
    });
    return out;
  };
  const windowOf = (o: Origin, items: number): Window => {
    const s = streams[o.subject]!;
    const hits = new Map<string, number>();
    let launches = 0;
    let unservable = 0;
    for (let i = o.t; i < o.t + items; i++) {
      const p = s[i];
      if (p === undefined) {
        unservable++;
        continue;
      }
      launches++;
      hits.set(p, (hits.get(p) ?? 0) + 1);
    }
    const seen = new Set<string>();
    for (let i = 0; i < o.t; i++) if (s[i] !== undefined) seen.add(s[i]!);
    let seenBytes = 0;
    for (const p of seen) seenBytes += bytes(p);
    return { hits, launches, unservable, seen, seenBytes };
  };

  /** The fleet-wide best-first fill: every origin's packages ordered by share per byte. */
  const fill = (origins: readonly Origin[], windows: readonly Window[], settings: readonly PackageSetParams[]) => {
    const cands: { ratio: number; bytes: number; hits: number }[] = [];
    origins.forEach((o, i) => {
      const shares = expectedShares(streams[o.subject]!.slice(0, o.t), settings, priors[o.subject]!);
      for (const [p, share] of shares) cands.push({ ratio: sharePerByte(share, bytes(p)), bytes: bytes(p), hits: windows[i]!.hits.get(p) ?? 0 });
    });
    cands.sort((a, b) => b.ratio - a.ratio);
    const launches = windows.reduce((a, w) => a + w.launches, 0);
    const seenBytes = windows.reduce((a, w) => a + w.seenBytes, 0);
    return {
      /** Coverage and threshold when the packages of all origins may take `share` of every-seen's bytes. */
      atShare(share: number): { coverage: number; threshold: number; meanBytes: number } {
        const budget = share * seenBytes;
        let used = 0;
        let hits = 0;
        let threshold = Infinity;
        for (const c of cands) {
          if (used + c.bytes > budget) break;
          used += c.bytes;
          hits += c.hits;
          threshold = c.ratio;
        }
        return { coverage: launches ? hits / launches : 0, threshold, meanBytes: used / Math.max(1, origins.length) };
      },
      /** The highest threshold (fewest bytes) whose coverage reaches `coverage`. */
      thresholdFor(coverage: number): number {
        let hits = 0;
        for (const c of cands) {
          hits += c.hits;
          if (launches && hits / launches >= coverage) return c.ratio;
        }
        return cands.length ? cands[cands.length - 1]!.ratio : Infinity;
      },
      atThreshold(threshold: number): { coverage: number; meanBytes: number } {
        let used = 0;
        let hits = 0;
        for (const c of cands) {
          if (c.ratio < threshold) break;
          used += c.bytes;
          hits += c.hits;
        }
        return { coverage: launches ? hits / launches : 0, meanBytes: used / Math.max(1, origins.length) };
      },
    };
  };

  const horizons = (options.horizons ?? setHorizons).map((h): PackageSetHorizonResult => {
    const check = (): void => {
      if (options.signal?.aborted) throw new AbortedError('software-set evaluation');
    };
    const valOrigins = originsOf(validationFrom, trainItems, h.items);
    const valWindows = valOrigins.map((o) => windowOf(o, h.items));
    const validation = packageSetGrid.map((params) => {
      check();
      return { params, coverageAtHalf: fill(valOrigins, valWindows, [params]).atShare(0.5).coverage };
    });
    // Stable sort: equal figures keep the grid's order.
    const settings = [...validation].sort((a, b) => b.coverageAtHalf - a.coverageAtHalf).slice(0, averagedSettings).map((v) => v.params);
    const valFill = fill(valOrigins, valWindows, settings);
    // Serving keeps the fewest bytes that cover, on validation, within half a point of every package seen.
    const valLaunches = valWindows.reduce((a, w) => a + w.launches, 0);
    const valEverySeen = valLaunches ? valWindows.reduce((a, w) => a + [...w.seen].reduce((b, p) => b + (w.hits.get(p) ?? 0), 0), 0) / valLaunches : 0;
    const threshold = valFill.thresholdFor(valEverySeen - servingTolerance);

    check();
    const origins = originsOf(trainItems, trainItems + testItems, h.items);
    const windows = origins.map((o) => windowOf(o, h.items));
    const launches = windows.reduce((a, w) => a + w.launches, 0);
    const seenMean = windows.reduce((a, w) => a + w.seenBytes, 0) / Math.max(1, origins.length);
    const share = (meanBytes: number): number => (seenMean > 0 ? meanBytes / seenMean : 0);
    const everySeenHits = windows.reduce((a, w) => a + [...w.seen].reduce((b, p) => b + (w.hits.get(p) ?? 0), 0), 0);
    const everySeen = launches ? everySeenHits / launches : 0;
    const curve: CurvePoint[] = [];
    const filled = fill(origins, windows, settings);
    for (const s of budgetShares) {
      const r = filled.atShare(s);
      curve.push({ policy: 'package-set', knob: `budget ${Math.round(100 * s)} %`, meanBytes: r.meanBytes, bytesShare: share(r.meanBytes), coverage: r.coverage });
    }
    for (const k of topKs) {
      let used = 0;
      let hits = 0;
      origins.forEach((o, i) => {
        for (const p of mostFrequentPackages(streams[o.subject]!.slice(0, o.t), options.sequences[o.subject]!.slice(0, o.t), k, known)) {
          used += bytes(p);
          hits += windows[i]!.hits.get(p) ?? 0;
        }
      });
      const meanBytes = used / Math.max(1, origins.length);
      curve.push({ policy: 'most-frequent-programs', knob: `k = ${k}`, meanBytes, bytesShare: share(meanBytes), coverage: launches ? hits / launches : 0 });
    }
    curve.push({ policy: 'every-package-seen', knob: 'all', meanBytes: seenMean, bytesShare: 1, coverage: everySeen });
    const chosenOnTest = filled.atThreshold(threshold);
    const half = filled.atShare(0.5).coverage;
    const mf = curve.filter((c) => c.policy === 'most-frequent-programs' && c.bytesShare <= 0.5).reduce<CurvePoint | undefined>((a, b) => (!a || b.coverage > a.coverage ? b : a), undefined);
    return {
      horizon: h.name,
      items: h.items,
      origins: origins.length,
      launches,
      unservable: windows.reduce((a, w) => a + w.unservable, 0) / Math.max(1, windows.reduce((a, w) => a + w.unservable + w.launches, 0)),
      validation,
      chosen: { settings, validationCoverageAtHalf: valFill.atShare(0.5).coverage, threshold },
      curve,
      atChosenThreshold: { meanBytes: chosenOnTest.meanBytes, bytesShare: share(chosenOnTest.meanBytes), coverage: chosenOnTest.coverage },
      atHalf: { packageSet: half, mostFrequent: mf?.coverage ?? 0, mostFrequentK: mf ? Number(mf.knob.replace(/\D/g, '')) : 0, everySeen, gap: everySeen - half, withinOnePoint: everySeen - half <= 0.01 },
    };
  });
  return { trainItems, testItems, validationFrom, stride, subjects: streams.length, horizons };
}

/**
 * The packages of the k programs launched most often (equal counts to the program seen first);
 * programs no package serves are skipped, so k counts servable programs.
 */
export function mostFrequentPackages(packages: readonly (string | undefined)[], programs: readonly string[], k: number, known: (program: string) => string | undefined): Set<string> {
  const counts = new Map<string, { n: number; first: number }>();
  programs.forEach((program, i) => {
    if (packages[i] === undefined) return;
    const e = counts.get(program);
    if (e) e.n++;
    else counts.set(program, { n: 1, first: i });
  });
  const top = [...counts].sort((a, b) => b[1].n - a[1].n || a[1].first - b[1].first).slice(0, k);
  const out = new Set<string>();
  for (const [program] of top) {
    const p = known(program);
    if (p !== undefined) out.add(p);
  }
  return out;
}
