import { AbortedError, ValidationError } from '../../core/errors.js';
import { blockFeatures, resourceFeatures, sequenceBlocks, staticFeatureNames, stepsPerDay } from '../features.js';
import { peakQuantile } from '../metrics.js';
import { sortedQuantile } from '../window-stats.js';
import { trainingReport, type FitOptions, type ResourceModel, type ResourceQuery, type SavedModel, type TrainingReport } from '../models/model.js';
import { fitQuantileRegression, predictLinear } from './quantile-regression.js';

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
}

export const defaultPooledForecasterOptions: PooledForecasterOptions = {
  horizons: [12, 288],
  unit: 'percent',
  quantile: peakQuantile,
  fitStride: 12,
  targetsPerOrigin: 24,
  pool: 'global',
};

const version = '1';
const dims = 1 + staticFeatureNames.length;
/** The longest look-back of the features (the realized costs of a 3-day p95 made a day ago): 4 days, and a margin. */
const lookback = 5 * stepsPerDay;
const scaleWindow = 8 * stepsPerDay;
/** Origins need a day of history for the day's statistics to mean anything. */
const minHistory = stepsPerDay;

export type PooledForecaster = ResourceModel & { readonly pool: string; readonly unit: ResourceUnit };

export function createPooledForecaster(overrides: Partial<PooledForecasterOptions> = {}): PooledForecaster {
  let options = { ...defaultPooledForecasterOptions, ...overrides };
  if (!resourceUnits.includes(options.unit)) throw new ValidationError('unit', `one of ${resourceUnits.join(', ')}`);
  let coefficients = new Map<number, Float64Array>();
  const seq = new Float32Array(sequenceBlocks * blockFeatures);

  /** Features of origin t of a series already in model units, into out[offset ..]: 1, then the statistics. */
  const featuresAt = (s: Float64Array, t: number, out: Float32Array, offset: number): void => {
    out[offset] = 1;
    resourceFeatures(s, t, seq, 0, out, offset + 1);
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
        const f = new Float32Array(origins.length * dims);
        origins.forEach((t, i) => featuresAt(s, t, f, i * dims));
        perSeries.push({ s, origins, f });
      }
      let samples = 0;
      for (const horizon of options.horizons) {
        const k = Math.min(horizon, options.targetsPerOrigin);
        let rows = 0;
        for (const p of perSeries) for (const t of p.origins) if (t + horizon <= p.s.length) rows++;
        if (rows === 0) throw new ValidationError('series', `no series is longer than ${minHistory + horizon} steps: nothing to fit at horizon ${horizon}`);
        const features = new Float32Array(rows * dims);
        const targets = new Float32Array(rows * k);
        let r = 0;
        for (const p of perSeries) {
          p.origins.forEach((t, i) => {
            if (t + horizon > p.s.length) return;
            features.set(p.f.subarray(i * dims, (i + 1) * dims), r * dims);
            for (let j = 0; j < k; j++) targets[r * k + j] = p.s[t + Math.floor(((j + 0.5) * horizon) / k)]! / 100;
            r++;
          });
        }
        next.set(horizon, fitQuantileRegression({ features, dims, targets, targetsPerRow: k }, { quantile: options.quantile, ...(fit.signal ? { signal: fit.signal } : {}) }));
        samples += rows;
        fit.onProgress?.(`pooled quantile regression, horizon ${horizon}: ${rows} origins of ${data.length} series`);
      }
      coefficients = next;
      return trainingReport({ id: pooledForecasterId, version }, started, samples, { pool: options.pool, unit: options.unit, features: dims - 1, horizons: options.horizons.join(',') });
    },
    predict({ series, origins, horizon }: ResourceQuery): Float64Array {
      const beta = coefficients.get(horizon);
      if (!beta) throw new ValidationError('horizon', `the pooled forecaster was not fitted for ${horizon} steps (fitted: ${[...coefficients.keys()].join(', ') || 'none'})`);
      const first = origins.length > 0 ? Math.min(...origins) : series.length;
      const scale = scaleOf(series, first);
      const out = new Float64Array(origins.length);
      const row = new Float32Array(dims);
      origins.forEach((t, i) => {
        if (t <= 0) return;
        // The features look back at most four days: only that window is read (and rescaled).
        const from = Math.max(0, t - lookback);
        featuresAt(normalised(series.subarray(from, t), scale), t - from, row, 0);
        const v = predictLinear(beta, row) * 100;
        out[i] = Math.max(0, options.unit === 'percent' ? Math.min(100, v) : v) * scale;
      });
      return out;
    },
    async save(): Promise<SavedModel> {
      return { id: pooledForecasterId, version, state: { options, coefficients: Object.fromEntries([...coefficients].map(([h, b]) => [String(h), [...b]])) } };
    },
    async load(saved: SavedModel): Promise<void> {
      if (saved.id !== pooledForecasterId || saved.version !== version) throw new ValidationError('model', `not a ${pooledForecasterId} v${version} model`);
      const state = saved.state as { coefficients?: Record<string, unknown>; options?: { unit?: unknown; pool?: unknown } };
      const unit = state.options?.unit ?? options.unit;
      if (!resourceUnits.includes(unit as ResourceUnit)) throw new ValidationError('state.options.unit', `one of ${resourceUnits.join(', ')}`);
      const loaded = new Map<number, Float64Array>();
      for (const [h, b] of Object.entries(state.coefficients ?? {})) {
        if (!Array.isArray(b) || b.length !== dims || !b.every((v) => typeof v === 'number' && Number.isFinite(v))) throw new ValidationError(`state.coefficients.${h}`, `${dims} finite numbers`);
        loaded.set(Number(h), Float64Array.from(b as number[]));
      }
      coefficients = loaded;
      options = { ...options, unit: unit as ResourceUnit, horizons: [...loaded.keys()], pool: typeof state.options?.pool === 'string' ? state.options.pool.slice(0, 100) : options.pool };
    },
  };
}
