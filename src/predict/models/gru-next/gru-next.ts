import type * as tfTypes from '@tensorflow/tfjs';
import { ValidationError } from '../../../core/errors.js';
import { buildVocabulary } from '../../features.js';
import { loadTf, type Tf } from '../../tf.js';
import { trainingReport, type FitOptions, type SavedModel, type SequenceModel, type SequenceQuery, type SequenceSession, type TrainingReport } from '../model.js';
import { createNgramMix } from '../ngram-mix/ngram-mix.js';
import { minimizeLoss, trainLoop } from '../train-loop.js';

/**
 * Recurrent next-program model: embedding → GRU over the last `context` programs → softmax over a
 * vocabulary of the most used programs, trained on the pooled population. It learns habits that
 * are shared between people; it does not learn online, so its session mixes its distribution
 * with the n-gram model's (which learns the subject's own stream as it goes): `gru-ngram`.
 */
export interface GruNextOptions {
  vocabulary: number;
  context: number;
  embedding: number;
  units: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  maxSamples: number;
  /** Weight of the GRU in the mixture with the n-gram model. */
  mix: number;
}

export const defaultGruNextOptions: GruNextOptions = {
  vocabulary: 160,
  context: 8,
  embedding: 16,
  units: 32,
  epochs: 3,
  batchSize: 256,
  learningRate: 0.005,
  maxSamples: 40_000,
  mix: 0.3,
};

export function createGruNext(options: Partial<GruNextOptions> = {}): SequenceModel {
  const opts = { ...defaultGruNextOptions, ...options };
  const id = 'gru-ngram';
  const version = '1';
  let vocab: string[] = [];
  let index = new Map<string, number>();
  let net: tfTypes.LayersModel | undefined;
  let tfLib: Tf | undefined;
  const ngram = createNgramMix();
  const oov = (): number => vocab.length; // the id shared by every program outside the vocabulary
  const encode = (item: string): number => index.get(item) ?? oov();

  const build = (tf: Tf, seed: number): tfTypes.LayersModel => {
    const m = tf.sequential();
    // One-hot programs into a linear projection (an embedding): tfjs' Embedding layer needs a
    // kernel (UnsortedSegmentSum) that the WebAssembly backend does not have.
    m.add(tf.layers.dense({ units: opts.embedding, useBias: false, inputShape: [opts.context, vocab.length + 1], kernelInitializer: tf.initializers.glorotUniform({ seed }) }));
    m.add(tf.layers.gru({ units: opts.units, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }), recurrentInitializer: tf.initializers.orthogonal({ seed: seed + 2 }) }));
    m.add(tf.layers.dense({ units: vocab.length + 1, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 3 }) }));
    return m;
  };

  return {
    id,
    version,
    kind: 'sequence',
    async fit(data, fitOptions: FitOptions = {}): Promise<TrainingReport> {
      const started = performance.now();
      const tf = (tfLib = await loadTf());
      const { signal, timeBudgetMs = Infinity, onProgress } = fitOptions;
      await ngram.fit(data);
      vocab = buildVocabulary(data, opts.vocabulary);
      index = new Map(vocab.map((v, i) => [v, i]));
      let total = 0;
      for (const s of data) total += Math.max(0, s.length - opts.context);
      if (total === 0) throw new ValidationError('history', `too little history to train ${id}`);
      const stride = Math.max(1, Math.ceil(total / opts.maxSamples));
      const xs: number[] = [];
      const ys: number[] = [];
      for (const s of data) {
        const codes = s.map(encode);
        for (let t = opts.context; t < codes.length; t += stride) {
          for (let j = t - opts.context; j < t; j++) xs.push(codes[j]!);
          ys.push(codes[t]!);
        }
      }
      const n = ys.length;
      // Shuffle sample order for the optimiser only (the split between history and test is
      // chronological and is made by the caller).
      const order = Array.from({ length: n }, (_, i) => i);
      let a = fitOptions.seed ?? 11;
      for (let i = n - 1; i > 0; i--) {
        a = (a * 1103515245 + 12345) & 0x7fffffff;
        const j = a % (i + 1);
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      const x = new Float32Array(n * opts.context);
      const y = new Int32Array(n);
      order.forEach((src, dst) => {
        for (let j = 0; j < opts.context; j++) x[dst * opts.context + j] = xs[src * opts.context + j]!;
        y[dst] = ys[src]!;
      });
      const model = build(tf, fitOptions.seed ?? 11);
      const optimizer = tf.train.adam(opts.learningRate);
      const X = tf.tensor2d(Int32Array.from(x), [n, opts.context], 'int32');
      const Y = tf.oneHot(tf.tensor1d(y, 'int32'), vocab.length + 1);
      let lastLoss = NaN;
      let run: Awaited<ReturnType<typeof trainLoop>>;
      try {
        run = await trainLoop({
          id,
          epochs: opts.epochs,
          samples: n,
          batchSize: opts.batchSize,
          startedAt: started,
          timeBudgetMs,
          signal,
          step: ({ from, size }) =>
            minimizeLoss(optimizer, () => {
              const p = model.apply(tf.oneHot(X.slice([from, 0], [size, -1]), vocab.length + 1)) as tfTypes.Tensor2D;
              return tf.losses.softmaxCrossEntropy(Y.slice([from, 0], [size, -1]), tf.log(tf.add(p, 1e-7))) as tfTypes.Scalar;
            }),
          endEpoch: ({ index, meanLoss }) => {
            lastLoss = meanLoss;
            onProgress?.(`epoch ${index + 1}/${opts.epochs} cross-entropy ${lastLoss.toFixed(4)}`);
          },
        });
      } finally {
        X.dispose();
        Y.dispose();
        optimizer.dispose();
      }
      net?.dispose();
      net = model;
      return trainingReport({ id, version }, started, n, { epochs: run.epochs, stoppedBy: run.stoppedBy, crossEntropy: Number(lastLoss.toFixed(4)), vocabulary: vocab.length, backend: tf.getBackend() });
    },
    predict({ history }: SequenceQuery): SequenceSession {
      if (!net || !tfLib) throw new ValidationError('model', `${id} is not trained or loaded`);
      const tf = tfLib;
      const model = net;
      const inner = ngram.predict({ history });
      const tail = history.slice(-opts.context).map(encode);
      // Contexts repeat a lot in command streams: remember the network's answer per context.
      const cache = new Map<string, Float32Array>();
      const gruProbs = (): Float32Array => {
        const ctx = [...Array(Math.max(0, opts.context - tail.length)).fill(oov()), ...tail];
        const key = ctx.join(',');
        let p = cache.get(key);
        if (!p) {
          p = tf.tidy(() => (model.predict(tf.oneHot(tf.tensor2d(ctx, [1, opts.context], 'int32'), vocab.length + 1)) as tfTypes.Tensor2D).dataSync() as Float32Array);
          if (cache.size > 50_000) cache.clear();
          cache.set(key, p);
        }
        return p;
      };
      const distribution = (k: number): { item: string; p: number }[] => {
        const g = gruProbs();
        const scores = new Map<string, number>();
        for (const d of inner.distribution(Math.max(k, 20))) scores.set(d.item, (1 - opts.mix) * d.p);
        const top = Array.from(g.keys()).filter((i) => i < vocab.length).sort((a, b) => g[b]! - g[a]!).slice(0, Math.max(k, 20));
        for (const i of top) scores.set(vocab[i]!, (scores.get(vocab[i]!) ?? 0) + opts.mix * g[i]!);
        return [...scores].map(([item, p]) => ({ item, p })).sort((a, b) => b.p - a.p).slice(0, k);
      };
      return {
        distribution,
        rank: (k) => distribution(k).map((d) => d.item),
        observe(item) {
          inner.observe(item);
          tail.push(encode(item));
          if (tail.length > opts.context) tail.shift();
        },
      };
    },
    async save(): Promise<SavedModel> {
      if (!net || !tfLib) throw new ValidationError('model', `${id} is not trained`);
      let saved: { modelTopology: unknown; weightSpecs: unknown; weightData: string } | undefined;
      await net.save(
        tfLib.io.withSaveHandler(async (artifacts) => {
          saved = { modelTopology: artifacts.modelTopology, weightSpecs: artifacts.weightSpecs, weightData: Buffer.from(artifacts.weightData as ArrayBuffer).toString('base64') };
          return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
        }),
      );
      return { id, version, state: { options: opts, vocab, ngram: await ngram.save(), ...saved! } };
    },
    async load(saved: SavedModel): Promise<void> {
      if (saved.id !== id || saved.version !== version) throw new ValidationError('model', `cannot load ${saved.id}@${saved.version} into ${id}@${version}`);
      const tf = (tfLib = await loadTf());
      const state = saved.state as { options: GruNextOptions; vocab: string[]; ngram: SavedModel; modelTopology: object; weightSpecs: tfTypes.io.WeightsManifestEntry[]; weightData: string };
      Object.assign(opts, state.options);
      vocab = state.vocab;
      index = new Map(vocab.map((v, i) => [v, i]));
      await ngram.load(state.ngram);
      const bytes = Buffer.from(state.weightData, 'base64');
      net?.dispose();
      net = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: state.modelTopology, weightSpecs: state.weightSpecs, weightData: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) }));
    },
  };
}
