import type * as tfTypes from '@tensorflow/tfjs';
import { AbortedError, ValidationError } from '../../../core/errors.js';
import { blockFeatures, resourceFeatures, sequenceBlocks, staticFeatureNames } from '../../features.js';
import { peakQuantile } from '../../metrics.js';
import { loadTf, type Tf } from '../../tf.js';
import { trainingReport, type FitOptions, type ResourceModel, type ResourceQuery, type SavedModel, type TrainingReport } from '../model.js';

/**
 * Recurrent quantile forecaster of resource peaks: an LSTM over the last 24 hourly blocks plus the
 * baselines' summary statistics, with one output per horizon (next hour, next 24 hours), trained
 * with the pinball loss at p95 against every 5-minute value of each horizon. A linear path from
 * the summary statistics to the output means the network starts where a tuned mix of baselines
 * would be and learns what the sequence adds. Small on purpose: it trains on 2 shared cores.
 */
export interface LstmQuantileOptions {
  horizons: readonly number[];
  quantile: number;
  units: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** Training origins are subsampled to about this many (spread over all series and times). */
  maxSamples: number;
}

export const defaultLstmQuantileOptions: LstmQuantileOptions = {
  horizons: [12, 288],
  quantile: peakQuantile,
  units: 16,
  epochs: 5,
  batchSize: 512,
  learningRate: 0.003,
  maxSamples: 24_000,
};

const staticCount = staticFeatureNames.length;

export function createLstmQuantile(options: Partial<LstmQuantileOptions> = {}): ResourceModel {
  const opts = { ...defaultLstmQuantileOptions, ...options };
  const id = 'lstm-quantile';
  const version = '1';
  let net: tfTypes.LayersModel | undefined;
  let tfLib: Tf | undefined;
  const maxHorizon = Math.max(...opts.horizons);

  const build = (tf: Tf, seed: number): tfTypes.LayersModel => {
    const seqIn = tf.input({ shape: [sequenceBlocks, blockFeatures], name: 'hourly' });
    const statIn = tf.input({ shape: [staticCount], name: 'summary' });
    const h = tf.layers.lstm({ units: opts.units, kernelInitializer: tf.initializers.glorotUniform({ seed }), recurrentInitializer: tf.initializers.orthogonal({ seed: seed + 1 }) }).apply(seqIn) as tfTypes.SymbolicTensor;
    const joined = tf.layers.concatenate().apply([h, statIn]) as tfTypes.SymbolicTensor;
    const hidden = tf.layers.dense({ units: 16, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 2 }) }).apply(joined) as tfTypes.SymbolicTensor;
    const nonlinear = tf.layers.dense({ units: opts.horizons.length, kernelInitializer: tf.initializers.zeros() }).apply(hidden) as tfTypes.SymbolicTensor;
    // The linear path starts as the baseline that suits each horizon (p95 of the last hour for
    // short horizons, of the last day for long ones): training begins at the best baseline and
    // can only be kept if it improves on it.
    const start = opts.horizons.flatMap((h) => staticFeatureNames.map((name) => (name === (h <= 36 ? 'p95_12' : 'p95_288') ? 1 : 0)));
    const kernel = new Float32Array(staticCount * opts.horizons.length);
    opts.horizons.forEach((_, j) => staticFeatureNames.forEach((_, i) => (kernel[i * opts.horizons.length + j] = start[j * staticCount + i]!)));
    const linear = tf.layers
      .dense({ units: opts.horizons.length, weights: [tf.tensor2d(kernel, [staticCount, opts.horizons.length]), tf.zeros([opts.horizons.length])] })
      .apply(statIn) as tfTypes.SymbolicTensor;
    const out = tf.layers.add().apply([nonlinear, linear]) as tfTypes.SymbolicTensor;
    return tf.model({ inputs: [seqIn, statIn], outputs: out });
  };

  const featurise = (series: Float64Array, origins: readonly number[]): { seq: Float32Array; stat: Float32Array } => {
    const seq = new Float32Array(origins.length * sequenceBlocks * blockFeatures);
    const stat = new Float32Array(origins.length * staticCount);
    origins.forEach((t, i) => resourceFeatures(series, t, seq, i * sequenceBlocks * blockFeatures, stat, i * staticCount));
    return { seq, stat };
  };

  /** Mean pinball loss of each head, weighted so that every horizon counts alike. */
  const lossOf = (tf: Tf, yTrue: tfTypes.Tensor2D, yPred: tfTypes.Tensor2D, weights: readonly number[]): tfTypes.Scalar =>
    tf.tidy(() => {
      const parts = opts.horizons.map((h, j) => {
        const y = yTrue.slice([0, 0], [-1, h]);
        const q = yPred.slice([0, j], [-1, 1]);
        const d = tf.sub(y, q);
        return tf.mean(tf.maximum(tf.mul(d, opts.quantile), tf.mul(d, opts.quantile - 1))).mul(weights[j]!);
      });
      return tf.addN(parts).div(opts.horizons.length) as tfTypes.Scalar;
    });

  return {
    id,
    version,
    kind: 'resource',
    async fit(data: readonly Float64Array[], fitOptions: FitOptions = {}): Promise<TrainingReport> {
      const started = performance.now();
      const tf = (tfLib = await loadTf());
      const { signal, timeBudgetMs = Infinity, onProgress } = fitOptions;
      // Origins whose whole longest horizon is known, spread evenly; the last 10 % of each
      // series' origins are kept apart (chronologically) to choose the best epoch.
      let total = 0;
      for (const s of data) total += Math.max(0, s.length - maxHorizon - 1);
      const stride = Math.max(1, Math.ceil(total / opts.maxSamples));
      const train: { s: Float64Array; t: number }[] = [];
      const valid: { s: Float64Array; t: number }[] = [];
      for (const s of data) {
        const last = s.length - maxHorizon;
        const cut = Math.floor(1 + (last - 1) * 0.9);
        for (let t = 1 + (total % stride); t <= last; t += stride) (t < cut ? train : valid).push({ s, t });
      }
      if (train.length === 0) throw new ValidationError('history', `too little history to train ${id}: each series needs more than ${maxHorizon} steps`);
      const tensors = (cases: { s: Float64Array; t: number }[]): { seq: tfTypes.Tensor3D; stat: tfTypes.Tensor2D; y: tfTypes.Tensor2D } => {
        const seq = new Float32Array(cases.length * sequenceBlocks * blockFeatures);
        const stat = new Float32Array(cases.length * staticCount);
        const y = new Float32Array(cases.length * maxHorizon);
        cases.forEach(({ s, t }, i) => {
          resourceFeatures(s, t, seq, i * sequenceBlocks * blockFeatures, stat, i * staticCount);
          for (let h = 0; h < maxHorizon; h++) y[i * maxHorizon + h] = s[t + h]! / 100;
        });
        return {
          seq: tf.tensor3d(seq, [cases.length, sequenceBlocks, blockFeatures]),
          stat: tf.tensor2d(stat, [cases.length, staticCount]),
          y: tf.tensor2d(y, [cases.length, maxHorizon]),
        };
      };
      shuffleInPlace(train, fitOptions.seed ?? 7); // batches mix series and times; the split itself stays chronological
      const tr = tensors(train);
      const va = valid.length > 0 ? tensors(valid) : undefined;
      const model = build(tf, fitOptions.seed ?? 7);
      const optimizer = tf.train.adam(opts.learningRate);
      // Each head's loss is scaled by the loss of its starting baseline, so the day-ahead head
      // (larger errors) does not drown the hour-ahead one.
      const reference = va ?? tr;
      const headWeights = opts.horizons.map((_, j) => {
        const w = opts.horizons.map((__, i) => (i === j ? 1 : 0));
        const l = tf.tidy(() => lossOf(tf, reference.y, model.predict([reference.seq, reference.stat]) as tfTypes.Tensor2D, w).dataSync()[0]!);
        return opts.horizons.length / Math.max(l, 1e-6);
      });
      const validLoss = (): number => {
        if (!va) return NaN;
        return tf.tidy(() => lossOf(tf, va.y, model.predict([va.seq, va.stat]) as tfTypes.Tensor2D, headWeights).dataSync()[0]!);
      };
      let best = validLoss();
      let bestWeights = model.getWeights().map((w) => w.clone());
      let epochsRun = 0;
      let stoppedBy = 'epochs';
      const batches = Math.ceil(train.length / opts.batchSize);
      try {
        outer: for (let epoch = 0; epoch < opts.epochs; epoch++) {
          let lossSum = 0;
          for (let b = 0; b < batches; b++) {
            if (signal?.aborted) throw new AbortedError(`training ${id}`);
            if (performance.now() - started > timeBudgetMs) {
              stoppedBy = 'time budget';
              break outer;
            }
            const from = b * opts.batchSize;
            const size = Math.min(opts.batchSize, train.length - from);
            const cost = optimizer.minimize(() => {
              const xs = tr.seq.slice([from, 0, 0], [size, -1, -1]);
              const xt = tr.stat.slice([from, 0], [size, -1]);
              const ys = tr.y.slice([from, 0], [size, -1]);
              return lossOf(tf, ys, model.apply([xs, xt]) as tfTypes.Tensor2D, headWeights);
            }, true);
            lossSum += cost!.dataSync()[0]!;
            cost!.dispose();
            // Yield so that a Ctrl-C (AbortSignal) and the progress display get their turn.
            if (b % 8 === 7) await new Promise((r) => setImmediate(r));
          }
          epochsRun++;
          const vl = validLoss();
          onProgress?.(`epoch ${epoch + 1}/${opts.epochs} loss/baseline train ${(lossSum / batches).toFixed(4)} valid ${vl.toFixed(4)}`);
          if (!(vl >= best)) {
            best = vl;
            bestWeights.forEach((w) => w.dispose());
            bestWeights = model.getWeights().map((w) => w.clone());
          }
        }
      } finally {
        tr.seq.dispose();
        tr.stat.dispose();
        tr.y.dispose();
        if (va) (va.seq.dispose(), va.stat.dispose(), va.y.dispose());
        optimizer.dispose();
      }
      model.setWeights(bestWeights);
      bestWeights.forEach((w) => w.dispose());
      net?.dispose();
      net = model;
      return trainingReport({ id, version }, started, train.length, {
        epochs: epochsRun,
        stoppedBy,
        validationLossVsBaseline: Number(best.toFixed(4)),
        validationSamples: valid.length,
        horizons: opts.horizons.join(','),
        units: opts.units,
        backend: tf.getBackend(),
      });
    },
    predict({ series, origins, horizon }: ResourceQuery): Float64Array {
      if (!net || !tfLib) throw new ValidationError('model', `${id} is not trained or loaded`);
      const tf = tfLib;
      const model = net;
      // The output of the trained horizon nearest to the one asked for.
      let j = 0;
      opts.horizons.forEach((h, i) => Math.abs(Math.log(h / horizon)) < Math.abs(Math.log(opts.horizons[j]! / horizon)) && (j = i));
      const out = new Float64Array(origins.length);
      const chunk = 4096;
      for (let from = 0; from < origins.length; from += chunk) {
        const part = origins.slice(from, from + chunk);
        const { seq, stat } = featurise(series, part);
        const values = tf.tidy(() => {
          const y = model.predict([tf.tensor3d(seq, [part.length, sequenceBlocks, blockFeatures]), tf.tensor2d(stat, [part.length, staticCount])]) as tfTypes.Tensor2D;
          return y.slice([0, j], [-1, 1]).dataSync();
        });
        for (let i = 0; i < part.length; i++) out[from + i] = Math.min(100, Math.max(0, values[i]! * 100));
      }
      return out;
    },
    async save(): Promise<SavedModel> {
      if (!net || !tfLib) throw new ValidationError('model', `${id} is not trained`);
      let saved: { modelTopology: unknown; weightSpecs: unknown; weightData: string } | undefined;
      await net.save(
        tfLib.io.withSaveHandler(async (artifacts) => {
          const data = artifacts.weightData as ArrayBuffer;
          saved = { modelTopology: artifacts.modelTopology, weightSpecs: artifacts.weightSpecs, weightData: Buffer.from(data).toString('base64') };
          return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
        }),
      );
      return { id, version, state: { options: opts, ...saved! } };
    },
    async load(saved: SavedModel): Promise<void> {
      if (saved.id !== id || saved.version !== version) throw new ValidationError('model', `cannot load ${saved.id}@${saved.version} into ${id}@${version}`);
      const tf = (tfLib = await loadTf());
      const state = saved.state as { options: LstmQuantileOptions; modelTopology: object; weightSpecs: tfTypes.io.WeightsManifestEntry[]; weightData: string };
      Object.assign(opts, state.options);
      const bytes = Buffer.from(state.weightData, 'base64');
      const weightData = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
      net?.dispose();
      net = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: state.modelTopology, weightSpecs: state.weightSpecs, weightData }));
    },
  };
}

/** Deterministic Fisher–Yates (mulberry32), so that a training run can be repeated. */
function shuffleInPlace<T>(items: T[], seed: number): void {
  let a = seed >>> 0;
  const rand = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
}
