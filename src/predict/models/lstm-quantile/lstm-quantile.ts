import type * as tfTypes from '@tensorflow/tfjs';
import { seededRandom } from '../../../core/seeded-random.js';
import { ValidationError } from '../../../core/errors.js';
import { blockFeatures, resourceFeatures, sequenceBlocks, staticFeatureNames } from '../../features.js';
import { allocationFigures, marginFor, peakQuantile, type AllocationCase } from '../../metrics.js';
import { loadTf, type Tf } from '../../tf.js';
import { createScratch, extractForwardWeights, forward, forwardLayerNames, type ForwardScratch, type ForwardWeights } from './forward.js';
import { minimizeLoss, trainLoop } from '../train-loop.js';
import { trainingReport, type FitOptions, type ResourceModel, type ResourceQuery, type SavedModel, type TrainingReport } from '../model.js';

/**
 * Recurrent quantile forecaster of resource peaks: an LSTM over the last 24 hourly blocks plus the
 * baselines' summary statistics, with one output per horizon (next hour, next 24 hours), trained
 * with the pinball loss at p95 against every 5-minute value of each horizon. A linear path from
 * the summary statistics to the output means the network starts where a tuned mix of baselines
 * would be and learns what the sequence adds. Small on purpose: it trains on 2 shared cores.
 *
 * Each horizon has two outputs. The p95 head is the peak forecast (pinball loss). The allocation
 * head is what the resource module provisions from, and it is trained for exactly what an
 * allocation is judged on: the waste (allocated minus used) plus λ × a smoothed count of the
 * 5-minute steps above it, with λ raised or lowered after every batch (dual ascent) until the
 * share of steps above it is `allocationRate`. The two differ on purpose: a p95 forecast must
 * chase the height of bursts (the pinball loss charges a miss by its size), while
 * under-provisioning counts steps, so an allocation that covers a VM's rare full-scale bursts at
 * the price of idling far above its usual load the rest of the time is a poor one.
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
  /** Share of 5-minute steps the allocation head aims to leave under-provisioned. */
  allocationRate: number;
}

export const defaultLstmQuantileOptions: LstmQuantileOptions = {
  horizons: [12, 288],
  quantile: peakQuantile,
  units: 16,
  epochs: 5,
  batchSize: 512,
  learningRate: 0.003,
  maxSamples: 24_000,
  allocationRate: 0.04,
};

/** Width (in 0–1 units, so one percentage point) of the sigmoid that stands for a miss. */
const missWidth = 0.01;

const staticCount = staticFeatureNames.length;

export function createLstmQuantile(options: Partial<LstmQuantileOptions> = {}): ResourceModel {
  const opts = { ...defaultLstmQuantileOptions, ...options };
  const id = 'lstm-quantile';
  const version = '3';
  let net: tfTypes.LayersModel | undefined;
  let tfLib: Tf | undefined;
  let fw: { weights: ForwardWeights; scratch: ForwardScratch } | undefined;
  let last: { series: Float64Array; origins: readonly number[]; out: Float32Array } | undefined;
  /** Set by fit when no epoch beat the starting weights on validation. */
  let keptStart = false;
  /** The baseline each p95 head starts as (see build). */
  const startingRule = (hz: number): string => (hz <= 36 ? 'moving-p95-12' : 'moving-p95-288');
  const maxHorizon = Math.max(...opts.horizons);
  const heads = (): number => opts.horizons.length;

  /**
   * `allocStart[j]` is the summary feature (and offset, in 0–1 units) the allocation head of
   * horizon j starts from: the one whose allocation wastes least on the training data.
   */
  const build = (tf: Tf, seed: number, allocStart: readonly { feature: number; offset: number }[]): tfTypes.LayersModel => {
    const k = 2 * heads();
    const seqIn = tf.input({ shape: [sequenceBlocks, blockFeatures], name: 'hourly' });
    const statIn = tf.input({ shape: [staticCount], name: 'summary' });
    const h = tf.layers.lstm({ name: forwardLayerNames.lstm, units: opts.units, kernelInitializer: tf.initializers.glorotUniform({ seed }), recurrentInitializer: tf.initializers.orthogonal({ seed: seed + 1 }) }).apply(seqIn) as tfTypes.SymbolicTensor;
    const joined = tf.layers.concatenate().apply([h, statIn]) as tfTypes.SymbolicTensor;
    const hidden = tf.layers.dense({ name: forwardLayerNames.hidden, units: 16, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 2 }) }).apply(joined) as tfTypes.SymbolicTensor;
    const nonlinear = tf.layers.dense({ name: forwardLayerNames.nonlinear, units: k, kernelInitializer: tf.initializers.zeros() }).apply(hidden) as tfTypes.SymbolicTensor;
    // The linear path starts as a baseline: for the p95 heads the one that suits each horizon
    // (p95 of the last hour for short horizons, of the last day for long ones), for the
    // allocation heads the one that allocates best on the training data. Training begins at a
    // baseline and keeps only what improves on it.
    const kernel = new Float32Array(staticCount * k);
    const bias = new Float32Array(k);
    opts.horizons.forEach((hz, j) => {
      kernel[staticFeatureNames.indexOf(startingRule(hz) === 'moving-p95-12' ? 'p95_12' : 'p95_288') * k + j] = 1;
      kernel[allocStart[j]!.feature * k + heads() + j] = 1;
      bias[heads() + j] = allocStart[j]!.offset;
    });
    const linear = tf.layers
      .dense({ name: forwardLayerNames.linear, units: k, weights: [tf.tensor2d(kernel, [staticCount, k]), tf.tensor1d(bias)] })
      .apply(statIn) as tfTypes.SymbolicTensor;
    const out = tf.layers.add().apply([nonlinear, linear]) as tfTypes.SymbolicTensor;
    return tf.model({ inputs: [seqIn, statIn], outputs: out });
  };

  /** Pinball loss of the p95 head of horizon j. */
  const peakLoss = (tf: Tf, yTrue: tfTypes.Tensor2D, yPred: tfTypes.Tensor2D, j: number): tfTypes.Scalar => {
    const d = tf.sub(yTrue.slice([0, 0], [-1, opts.horizons[j]!]), yPred.slice([0, j], [-1, 1]));
    return tf.mean(tf.maximum(tf.mul(d, opts.quantile), tf.mul(d, opts.quantile - 1)));
  };
  /** Waste + λ × smoothed misses of the allocation head of horizon j, and its hard miss rate. */
  const allocLoss = (tf: Tf, yTrue: tfTypes.Tensor2D, yPred: tfTypes.Tensor2D, j: number, lambda: number): { loss: tfTypes.Scalar; missRate: tfTypes.Scalar } => {
    const d = tf.sub(yTrue.slice([0, 0], [-1, opts.horizons[j]!]), yPred.slice([0, heads() + j], [-1, 1]));
    const waste = tf.relu(tf.neg(d));
    const miss = tf.sigmoid(tf.div(d, missWidth));
    return { loss: tf.mean(tf.add(waste, tf.mul(miss, lambda))), missRate: tf.mean(tf.cast(tf.greater(d, 0), 'float32')) };
  };

  const featurise = (series: Float64Array, origins: readonly number[]): { seq: Float32Array; stat: Float32Array } => {
    const seq = new Float32Array(origins.length * sequenceBlocks * blockFeatures);
    const stat = new Float32Array(origins.length * staticCount);
    origins.forEach((t, i) => resourceFeatures(series, t, seq, i * sequenceBlocks * blockFeatures, stat, i * staticCount));
    return { seq, stat };
  };

  /** All outputs (0–1 units) of every origin, by the plain forward pass; the last call is kept. */
  const outputs = (series: Float64Array, origins: readonly number[]): Float32Array => {
    if (!fw) throw new ValidationError('model', `${id} is not trained or loaded`);
    if (last && last.series === series && last.origins === origins) return last.out;
    const k = 2 * heads();
    const { seq, stat } = featurise(series, origins);
    const out = new Float32Array(origins.length * k);
    for (let i = 0; i < origins.length; i++) forward(fw.weights, fw.scratch, seq, i * sequenceBlocks * blockFeatures, sequenceBlocks, stat, i * staticCount, out, i * k);
    last = { series, origins, out };
    return out;
  };
  const column = (query: ResourceQuery, offset: number): Float64Array => {
    // The output of the trained horizon nearest to the one asked for.
    let j = 0;
    opts.horizons.forEach((h, i) => Math.abs(Math.log(h / query.horizon)) < Math.abs(Math.log(opts.horizons[j]! / query.horizon)) && (j = i));
    const all = outputs(query.series, query.origins);
    const k = 2 * heads();
    const out = new Float64Array(query.origins.length);
    for (let i = 0; i < out.length; i++) out[i] = Math.min(100, Math.max(0, all[i * k + offset + j]! * 100));
    return out;
  };
  const setNet = (model: tfTypes.LayersModel): void => {
    net?.dispose();
    net = model;
    const weights = extractForwardWeights(model);
    fw = { weights, scratch: createScratch(weights) };
    last = undefined;
  };

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
        const lastOrigin = s.length - maxHorizon;
        const cut = Math.floor(1 + (lastOrigin - 1) * 0.9);
        for (let t = 1 + (total % stride); t <= lastOrigin; t += stride) (t < cut ? train : valid).push({ s, t });
      }
      if (train.length === 0) throw new ValidationError('history', `too little history to train ${id}: each series needs more than ${maxHorizon} steps`);
      interface Arrays { seq: Float32Array; stat: Float32Array; y: Float32Array; n: number }
      const arrays = (cases: { s: Float64Array; t: number }[]): Arrays => {
        const seq = new Float32Array(cases.length * sequenceBlocks * blockFeatures);
        const stat = new Float32Array(cases.length * staticCount);
        const y = new Float32Array(cases.length * maxHorizon);
        cases.forEach(({ s, t }, i) => {
          resourceFeatures(s, t, seq, i * sequenceBlocks * blockFeatures, stat, i * staticCount);
          for (let h = 0; h < maxHorizon; h++) y[i * maxHorizon + h] = s[t + h]! / 100;
        });
        return { seq, stat, y, n: cases.length };
      };
      const tensors = (a: Arrays): { seq: tfTypes.Tensor3D; stat: tfTypes.Tensor2D; y: tfTypes.Tensor2D } => ({
        seq: tf.tensor3d(a.seq, [a.n, sequenceBlocks, blockFeatures]),
        stat: tf.tensor2d(a.stat, [a.n, staticCount]),
        y: tf.tensor2d(a.y, [a.n, maxHorizon]),
      });
      /** Allocation cases (percent units) of horizon j from some outputs column. */
      const casesOf = (a: Arrays, value: (i: number) => number, j: number, every = 1): AllocationCase[] => {
        const out: AllocationCase[] = [];
        const h = opts.horizons[j]!;
        for (let i = 0; i < a.n; i += every) out.push({ forecast: value(i) * 100, actual: Float64Array.from(a.y.subarray(i * maxHorizon, i * maxHorizon + h), (v) => v * 100) });
        return out;
      };
      /** Waste of an allocation tuned to the target rate: what the allocation head is for. */
      const tunedWaste = (cases: AllocationCase[]): { waste: number; margin: number } => {
        const margin = marginFor(cases, opts.allocationRate);
        return { waste: allocationFigures(cases, margin).waste, margin };
      };
      shuffleInPlace(train, fitOptions.seed ?? 7); // batches mix series and times; the split itself stays chronological
      const trA = arrays(train);
      const vaA = valid.length > 0 ? arrays(valid) : undefined;
      // Where each allocation head starts: the summary feature with the least tuned waste on
      // (a sample of) the training origins, offset by its margin.
      const every = Math.max(1, Math.floor(trA.n / 1500));
      const allocStart = opts.horizons.map((_, j) => {
        let best = { feature: 0, offset: 0, waste: Infinity };
        staticFeatureNames.forEach((_, f) => {
          const r = tunedWaste(casesOf(trA, (i) => trA.stat[i * staticCount + f]!, j, every));
          if (r.waste < best.waste) best = { feature: f, offset: r.margin / 100, waste: r.waste };
        });
        return best;
      });
      const tr = tensors(trA);
      const va = vaA ? tensors(vaA) : undefined;
      const model = build(tf, fitOptions.seed ?? 7, allocStart);
      const optimizer = tf.train.adam(opts.learningRate);
      const lambdas = opts.horizons.map(() => 2);
      const reference = va ?? tr;
      const refArrays = vaA ?? trA;
      // Each head's loss is scaled by its loss at the start (the baseline), so the day-ahead
      // heads (larger errors) do not drown the hour-ahead ones.
      const peakScale = opts.horizons.map((_, j) => 1 / Math.max(1e-6, tf.tidy(() => peakLoss(tf, reference.y, model.predict([reference.seq, reference.stat]) as tfTypes.Tensor2D, j).dataSync()[0]!)));
      const allocScale = opts.horizons.map((_, j) => 1 / Math.max(1e-6, tf.tidy(() => allocLoss(tf, reference.y, model.predict([reference.seq, reference.stat]) as tfTypes.Tensor2D, j, lambdas[j]!).loss.dataSync()[0]!)));
      const startWaste = allocStart.map((a, j) => tunedWaste(casesOf(refArrays, (i) => refArrays.stat[i * staticCount + a.feature]!, j)).waste);
      /** Validation score (1 = the starting baselines): p95 pinball and tuned allocation waste, relative. */
      const validScore = (): number => {
        const preds = tf.tidy(() => (model.predict([reference.seq, reference.stat]) as tfTypes.Tensor2D).dataSync());
        const k = 2 * heads();
        const peak = opts.horizons.map((_, j) => tf.tidy(() => peakLoss(tf, reference.y, model.predict([reference.seq, reference.stat]) as tfTypes.Tensor2D, j).dataSync()[0]! * peakScale[j]!));
        const alloc = opts.horizons.map((_, j) => tunedWaste(casesOf(refArrays, (i) => preds[i * k + heads() + j]!, j)).waste / Math.max(1e-6, startWaste[j]!));
        return [...peak, ...alloc].reduce((a, b) => a + b, 0) / k;
      };
      let best = validScore();
      keptStart = true;
      let bestWeights = model.getWeights().map((w) => w.clone());
      // Misses of the current epoch (mean over heads, summed over batches), for its progress line.
      let missSum = 0;
      let run: Awaited<ReturnType<typeof trainLoop>>;
      try {
        run = await trainLoop({
          id,
          epochs: opts.epochs,
          samples: train.length,
          batchSize: opts.batchSize,
          startedAt: started,
          timeBudgetMs,
          signal,
          step: ({ from, size }) => {
            let misses: tfTypes.Tensor | undefined;
            const loss = minimizeLoss(optimizer, () => {
              const xs = tr.seq.slice([from, 0, 0], [size, -1, -1]);
              const xt = tr.stat.slice([from, 0], [size, -1]);
              const ys = tr.y.slice([from, 0], [size, -1]);
              const pred = model.apply([xs, xt]) as tfTypes.Tensor2D;
              const parts: tfTypes.Scalar[] = [];
              const rates: tfTypes.Scalar[] = [];
              opts.horizons.forEach((_, j) => {
                parts.push(peakLoss(tf, ys, pred, j).mul(peakScale[j]!));
                const a = allocLoss(tf, ys, pred, j, lambdas[j]!);
                parts.push(a.loss.mul(allocScale[j]!));
                rates.push(a.missRate);
              });
              misses = tf.keep(tf.stack(rates));
              return tf.addN(parts).div(parts.length) as tfTypes.Scalar;
            });
            // Dual ascent: λ grows while the allocation misses more often than it should.
            const rate = misses!.dataSync();
            misses!.dispose();
            opts.horizons.forEach((_, j) => {
              const step = Math.max(-0.2, Math.min(0.2, (0.1 * (rate[j]! - opts.allocationRate)) / opts.allocationRate));
              lambdas[j] = lambdas[j]! * Math.exp(step);
              missSum += rate[j]! / heads();
            });
            return loss;
          },
          endEpoch: ({ index, meanLoss, batches }) => {
            const vs = validScore();
            onProgress?.(`epoch ${index + 1}/${opts.epochs} loss ${meanLoss.toFixed(4)} misses ${(100 * missSum / batches).toFixed(1)} % λ ${lambdas.map((l) => l.toFixed(2)).join('/')} valid/baseline ${vs.toFixed(4)}`);
            missSum = 0;
            // Early stopping by the best epoch: the weights kept are those that scored best on validation.
            if (!(vs >= best)) {
              best = vs;
              keptStart = false;
              bestWeights.forEach((w) => w.dispose());
              bestWeights = model.getWeights().map((w) => w.clone());
            }
          },
        });
      } finally {
        tr.seq.dispose();
        tr.stat.dispose();
        tr.y.dispose();
        if (va) (va.seq.dispose(), va.stat.dispose(), va.y.dispose());
        optimizer.dispose();
      }
      model.setWeights(bestWeights);
      bestWeights.forEach((w) => w.dispose());
      setNet(model);
      return trainingReport({ id, version }, started, train.length, {
        epochs: run.epochs,
        stoppedBy: run.stoppedBy,
        validationScoreVsBaseline: Number(best.toFixed(4)),
        keptStartingRule: keptStart,
        ...(keptStart ? { startingRule: opts.horizons.map((hz) => `${hz}:${startingRule(hz)}`).join(',') } : {}),
        validationSamples: valid.length,
        horizons: opts.horizons.join(','),
        allocationStart: allocStart.map((a) => staticFeatureNames[a.feature]).join(','),
        allocationRate: opts.allocationRate,
        lambda: lambdas.map((l) => l.toFixed(3)).join(','),
        units: opts.units,
        backend: tf.getBackend(),
      });
    },
    predict(query: ResourceQuery): Float64Array {
      return column(query, 0);
    },
    allocationBasis(query: ResourceQuery): Float64Array {
      return column(query, heads());
    },
    fellBackTo(horizon: number): string | undefined {
      return keptStart && opts.horizons.includes(horizon) ? startingRule(horizon) : undefined;
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
      setNet(await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: state.modelTopology, weightSpecs: state.weightSpecs, weightData })));
    },
  };
}

/** Deterministic Fisher–Yates, so that a training run can be repeated. */
function shuffleInPlace<T>(items: T[], seed: number): void {
  const rand = seededRandom(seed);
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
}
