import { AbortedError, ValidationError } from '../../core/errors.js';
import { blockFeatures, resourceFeatures, sequenceBlocks, staticFeatureNames, stepsPerDay } from '../features.js';
import { peakQuantile } from '../metrics.js';
import { sortedQuantile } from '../window-stats.js';
import { trainingReport, type FitOptions, type ResourceModel, type ResourceQuery, type SavedModel, type TrainingReport } from '../models/model.js';
import { decayedQuantiles } from '../models/baselines/recommenders.js';
import { fitBoostedQuantileTrees, type BoostedTreesOptions } from './boosted-quantile-trees.js';
import { isRegressionTree, predictTrees, type RegressionTree } from './regression-tree.js';
import { fitQuantileRegression, predictLinear } from './quantile-regression.js';
import { weekFeatureNames, weekFeatures, weekLookback } from './week-features.js';

/**
 * The pooled forecaster: one linear quantile regression (p95) per horizon over the summary
 * statistics of each subject's own recent history (the features the baselines are made of:
 * last value, means, p50/p95/max of the last hour, 12 hours, day and 3 days, the same hour
 * yesterday, how three day-ahead rules did lately), fitted on the origins of every subject it is
 * given at once. Pooling is what lets it serve a machine it never saw: the coefficients say how
 * to combine a machine's own statistics, not what that machine's level is.
 *
 * Rates (disk, network, in KB/s) differ between machines by orders of magnitude, so each series
 * is read in units of its own p99 over the part seen before the first origin; percentages are
 * read as they are.
 */
export const pooledForecasterId = 'pooled-quantile';
export const resourceUnits = ['percent', 'rate'] as const;
export type ResourceUnit = (typeof resourceUnits)[number];
/** 'day': the 21 statistics of features.ts (v1); 'decayed': those and the recommenders' two decayed quantiles; 'week': those and the week's (week-features.ts). */
export const featureSets = ['day', 'decayed', 'week'] as const;
export type FeatureSet = (typeof featureSets)[number];
/** 'linear': the quantile regression alone; 'boosted': quantile trees boosted from it. */
export const learners = ['linear', 'boosted'] as const;
export type Learner = (typeof learners)[number];

export interface PooledForecasterOptions {
  horizons: readonly number[];
  unit: ResourceUnit;
  quantile: number;
  /** A training origin every this many steps of each series. */
  fitStride: number;
  /** Steps of a horizon charged per origin (evenly spaced): 288 targets a row would be slow for no gain. */
  targetsPerOrigin: number;
  /** What the model was pooled over ("global", or "category:NAME"); reported, not used. */
  pool: string;
  featureSet: FeatureSet;
  learner: Learner;
  boost: Partial<Omit<BoostedTreesOptions, 'quantile' | 'signal'>>;
}

export const defaultPooledForecasterOptions: PooledForecasterOptions = {
  horizons: [12, 288],
  unit: 'percent',
  quantile: peakQuantile,
  fitStride: 12,
  targetsPerOrigin: 24,
  pool: 'global',
  // Chosen on the validation folds of the Bitbrains training parts (docs/prediction.md): the week's
  // statistics and the boosted trees were worse there than the day's statistics with the two
  // decayed quantiles, fitted linearly.
  featureSet: 'decayed',
  learner: 'linear',
  boost: {},
};

const version = '2';
/**
 * The 'decayed' set's decayed-histogram quantiles (half-life in steps, quantile): Autopilot's
 * and VPA's, the two rules that forecast the next day best on validation.
 */
const decayedFeatures = [
  [144, 0.95],
  [288, 0.9],
] as const;
const dimsOf = (set: FeatureSet): number => 1 + staticFeatureNames.length + (set === 'week' ? weekFeatureNames.length : set === 'decayed' ? decayedFeatures.length : 0);
/** The longest look-back of the features (the realized costs of a 3-day p95 made a day ago: 4 days; the week's: 7), and a margin. */
const lookbackOf = (set: FeatureSet): number => (set === 'week' ? weekLookback + stepsPerDay : 5 * stepsPerDay);
const scaleWindow = 8 * stepsPerDay;
const decayWindow = 10 * stepsPerDay;
/** Origins need a day of history for the day's statistics to mean anything. */
const minHistory = stepsPerDay;

/**
 * Fits already made, by the data array they were made on and the options: pooled-quantile and the
 * median candidates each fit this same regression on the same fold, and the fit is deterministic,
 * so the second and third read the first's coefficients. Keyed weakly by the array, so a fold's
 * fits go when its data does; callers share one array per fold (forecast-selection, eval, train).
 */
const fitsMade = new WeakMap<readonly Float64Array[], Map<string, { coefficients: Map<number, Float64Array>; forests: Map<number, RegressionTree[]>; report: TrainingReport }>>();

export type PooledForecaster = ResourceModel & { readonly pool: string; readonly unit: ResourceUnit };

export function createPooledForecaster(overrides: Partial<PooledForecasterOptions> = {}): PooledForecaster {
  let options = { ...defaultPooledForecasterOptions, ...overrides };
  if (!resourceUnits.includes(options.unit)) throw new ValidationError('unit', `one of ${resourceUnits.join(', ')}`);
  if (!featureSets.includes(options.featureSet)) throw new ValidationError('featureSet', `one of ${featureSets.join(', ')}`);
  if (!learners.includes(options.learner)) throw new ValidationError('learner', `one of ${learners.join(', ')}`);
  let coefficients = new Map<number, Float64Array>();
  let forests = new Map<number, RegressionTree[]>();
  const seq = new Float32Array(sequenceBlocks * blockFeatures);
  const dims = (): number => dimsOf(options.featureSet);

  /**
   * Features of the origins of a series already in model units, into out (one row of dims() per
   * origin): 1, then the statistics. The decayed quantiles take one pass over the series, so the
   * origins should be ascending.
   */
  const featuresOf = (s: Float64Array, origins: readonly number[], out: Float32Array): void => {
    const d = dims();
    const week = options.featureSet === 'week';
    const decayed = week || options.featureSet === 'decayed';
    const p95 = week ? decayedQuantiles(s, origins, 144, 0.95) : undefined;
    const p90 = week ? decayedQuantiles(s, origins, 288, 0.9) : undefined;
    const dq = !week && decayed ? decayedFeatures.map(([hl, q]) => decayedQuantiles(s, origins, hl, q)) : [];
    const lookback = lookbackOf(options.featureSet);
    origins.forEach((t, i) => {
      const o = i * d;
      out[o] = 1;
      // The statistics look back a bounded window: only that is read.
      const from = Math.max(0, t - lookback);
      const w = s.subarray(from, t);
      resourceFeatures(w, t - from, seq, 0, out, o + 1);
      if (week) weekFeatures(w, t - from, p95![i]!, p90![i]!, out, o + 1 + staticFeatureNames.length);
      else dq.forEach((v, j) => (out[o + 1 + staticFeatureNames.length + j] = v[i]! / 100));
    });
  };
  const forecastRow = (horizon: number, beta: Float64Array, row: Float32Array, offset: number): number => {
    const trees = forests.get(horizon);
    return predictLinear(beta, row, offset) + (trees ? predictTrees(trees, row, offset) : 0);
  };
  // A rate's unit is its p99 over the eight days before `end` (fit: the end of the series).
  const scaleOf = (s: Float64Array, end: number): number => {
    if (options.unit === 'percent') return 1;
    const to = Math.max(1, end);
    const p99 = sortedQuantile(s.slice(Math.max(0, to - scaleWindow), to).sort(), 0.99);
    return p99 > 0 ? p99 / 100 : 1;
  };
  const normalised = (s: Float64Array, scale: number): Float64Array => (scale === 1 ? s : s.map((v) => v / scale));

  return {
    id: pooledForecasterId,
    version,
    kind: 'resource',
    get pool() {
      return options.pool;
    },
    get unit() {
      return options.unit;
    },
    async fit(data: readonly Float64Array[], fit: FitOptions = {}): Promise<TrainingReport> {
      const key = JSON.stringify(options);
      const made = fitsMade.get(data)?.get(key);
      if (made) {
        ({ coefficients, forests } = made);
        return { ...made.report, details: { ...made.report.details, reused: 'the same fit on the same data' } };
      }
      const started = performance.now();
      const next = new Map<number, Float64Array>();
      const shortest = Math.min(...options.horizons);
      // Features are computed once per origin and shared by every horizon.
      const perSeries: { s: Float64Array; origins: number[]; f: Float32Array }[] = [];
      for (const raw of data) {
        if (fit.signal?.aborted) throw new AbortedError('training the pooled forecaster');
        const s = normalised(raw, scaleOf(raw, raw.length));
        const origins: number[] = [];
        for (let t = Math.min(minHistory, Math.max(12, s.length >> 2)); t + shortest <= s.length; t += options.fitStride) origins.push(t);
        const f = new Float32Array(origins.length * dims());
        featuresOf(s, origins, f);
        perSeries.push({ s, origins, f });
      }
      const dims_ = dims();
      const nextForests = new Map<number, RegressionTree[]>();
      let samples = 0;
      for (const horizon of options.horizons) {
        const k = Math.min(horizon, options.targetsPerOrigin);
        let rows = 0;
        for (const p of perSeries) for (const t of p.origins) if (t + horizon <= p.s.length) rows++;
        if (rows === 0) throw new ValidationError('series', `no series is longer than ${minHistory + horizon} steps: nothing to fit at horizon ${horizon}`);
        const features = new Float32Array(rows * dims_);
        const targets = new Float32Array(rows * k);
        let r = 0;
        for (const p of perSeries) {
          p.origins.forEach((t, i) => {
            if (t + horizon > p.s.length) return;
            features.set(p.f.subarray(i * dims_, (i + 1) * dims_), r * dims_);
            for (let j = 0; j < k; j++) targets[r * k + j] = p.s[t + Math.floor(((j + 0.5) * horizon) / k)]! / 100;
            r++;
          });
        }
        const rowsData = { features, dims: dims_, targets, targetsPerRow: k };
        const beta = fitQuantileRegression(rowsData, { quantile: options.quantile, ...(fit.signal ? { signal: fit.signal } : {}) });
        next.set(horizon, beta);
        if (options.learner === 'boosted') {
          const start = new Float64Array(rows);
          for (let i = 0; i < rows; i++) start[i] = predictLinear(beta, features, i * dims_);
          nextForests.set(horizon, fitBoostedQuantileTrees(rowsData, start, { ...options.boost, quantile: options.quantile, ...(fit.signal ? { signal: fit.signal } : {}) }));
        }
        samples += rows;
        fit.onProgress?.(`pooled quantile regression, horizon ${horizon}: ${rows} origins of ${data.length} series`);
      }
      coefficients = next;
      forests = nextForests;
      const report = trainingReport({ id: pooledForecasterId, version }, started, samples, { pool: options.pool, unit: options.unit, features: dims_ - 1, featureSet: options.featureSet, learner: options.learner, horizons: options.horizons.join(',') });
      if (!fitsMade.has(data)) fitsMade.set(data, new Map());
      fitsMade.get(data)!.set(key, { coefficients, forests, report });
      return report;
    },
    predict({ series, origins, horizon }: ResourceQuery): Float64Array {
      const beta = coefficients.get(horizon);
      if (!beta) throw new ValidationError('horizon', `the pooled forecaster was not fitted for ${horizon} steps (fitted: ${[...coefficients.keys()].join(', ') || 'none'})`);
      const first = origins.length > 0 ? Math.min(...origins) : series.length;
      const scale = scaleOf(series, first);
      const out = new Float64Array(origins.length);
      const d = dims();
      const rows = new Float32Array(origins.length * d);
      const valid = origins.map((t) => Math.min(Math.max(1, t), series.length));
      // Only the last ten days before the first origin are read: the decayed quantiles' weights
      // (half-lives of 12 and 24 h) of anything older are below 2^-10, and one vector's forecasts
      // then cost a pass over days, not over the whole history.
      const from = Math.max(0, Math.min(...valid) - decayWindow);
      featuresOf(normalised(series.subarray(from, Math.max(...valid, 1)), scale), valid.map((t) => t - from), rows);
      origins.forEach((t, i) => {
        if (t <= 0) return;
        const v = forecastRow(horizon, beta, rows, i * d) * 100;
        out[i] = Math.max(0, options.unit === 'percent' ? Math.min(100, v) : v) * scale;
      });
      return out;
    },
    async save(): Promise<SavedModel> {
      return {
        id: pooledForecasterId,
        version,
        state: { options, coefficients: Object.fromEntries([...coefficients].map(([h, b]) => [String(h), [...b]])), trees: Object.fromEntries([...forests].map(([h, t]) => [String(h), t])) },
      };
    },
    async load(saved: SavedModel): Promise<void> {
      // v1 models (the linear regression over the day's statistics) still load as what they were.
      if (saved.id !== pooledForecasterId || (saved.version !== version && saved.version !== '1')) throw new ValidationError('model', `not a ${pooledForecasterId} v1 or v${version} model`);
      const state = saved.state as { coefficients?: Record<string, unknown>; trees?: Record<string, unknown>; options?: { unit?: unknown; pool?: unknown; featureSet?: unknown; learner?: unknown } };
      const unit = state.options?.unit ?? options.unit;
      if (!resourceUnits.includes(unit as ResourceUnit)) throw new ValidationError('state.options.unit', `one of ${resourceUnits.join(', ')}`);
      const featureSet = saved.version === '1' ? 'day' : (state.options?.featureSet ?? options.featureSet);
      if (!featureSets.includes(featureSet as FeatureSet)) throw new ValidationError('state.options.featureSet', `one of ${featureSets.join(', ')}`);
      const learner = saved.version === '1' ? 'linear' : (state.options?.learner ?? options.learner);
      if (!learners.includes(learner as Learner)) throw new ValidationError('state.options.learner', `one of ${learners.join(', ')}`);
      const d = dimsOf(featureSet as FeatureSet);
      const loaded = new Map<number, Float64Array>();
      for (const [h, b] of Object.entries(state.coefficients ?? {})) {
        if (!Array.isArray(b) || b.length !== d || !b.every((v) => typeof v === 'number' && Number.isFinite(v))) throw new ValidationError(`state.coefficients.${h}`, `${d} finite numbers`);
        loaded.set(Number(h), Float64Array.from(b as number[]));
      }
      const loadedTrees = new Map<number, RegressionTree[]>();
      if (learner === 'boosted') {
        for (const h of loaded.keys()) {
          const t = state.trees?.[String(h)];
          if (!Array.isArray(t) || t.length > 10_000 || !t.every((x) => isRegressionTree(x, d))) throw new ValidationError(`state.trees.${h}`, `a list of quantile trees over ${d} features`);
          loadedTrees.set(h, t as RegressionTree[]);
        }
      }
      coefficients = loaded;
      forests = loadedTrees;
      options = {
        ...options,
        unit: unit as ResourceUnit,
        featureSet: featureSet as FeatureSet,
        learner: learner as Learner,
        horizons: [...loaded.keys()],
        pool: typeof state.options?.pool === 'string' ? state.options.pool.slice(0, 100) : options.pool,
      };
    },
  };
}
