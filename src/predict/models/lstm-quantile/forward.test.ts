import assert from 'node:assert/strict';
import { test } from 'node:test';
import type * as tfTypes from '@tensorflow/tfjs';
import { loadTf } from '../../tf.js';
import { createScratch, extractForwardWeights, forward, forwardLayerNames } from './forward.js';

test('the plain forward pass gives what tfjs gives for the same network', async () => {
  const tf = await loadTf();
  const steps = 24;
  const inputs = 3;
  const stats = 7;
  const outputs = 4;
  const seqIn = tf.input({ shape: [steps, inputs] });
  const statIn = tf.input({ shape: [stats] });
  // Random (seeded) weights everywhere, biases included, so that every term is exercised.
  const init = (seed: number): ReturnType<typeof tf.initializers.randomUniform> => tf.initializers.randomUniform({ minval: -0.8, maxval: 0.8, seed });
  const h = tf.layers.lstm({ name: forwardLayerNames.lstm, units: 5, kernelInitializer: init(1), recurrentInitializer: init(2), biasInitializer: init(3) }).apply(seqIn) as tfTypes.SymbolicTensor;
  const joined = tf.layers.concatenate().apply([h, statIn]) as tfTypes.SymbolicTensor;
  const hidden = tf.layers.dense({ name: forwardLayerNames.hidden, units: 6, activation: 'relu', kernelInitializer: init(4), biasInitializer: init(5) }).apply(joined) as tfTypes.SymbolicTensor;
  const nonlinear = tf.layers.dense({ name: forwardLayerNames.nonlinear, units: outputs, kernelInitializer: init(6), biasInitializer: init(7) }).apply(hidden) as tfTypes.SymbolicTensor;
  const linear = tf.layers.dense({ name: forwardLayerNames.linear, units: outputs, kernelInitializer: init(8), biasInitializer: init(9) }).apply(statIn) as tfTypes.SymbolicTensor;
  const model = tf.model({ inputs: [seqIn, statIn], outputs: tf.layers.add().apply([nonlinear, linear]) as tfTypes.SymbolicTensor });

  const n = 5;
  const seq = Float32Array.from({ length: n * steps * inputs }, (_, i) => Math.sin(i * 0.37) * 1.5);
  const stat = Float32Array.from({ length: n * stats }, (_, i) => Math.cos(i * 0.91));
  const expected = tf.tidy(() => (model.predict([tf.tensor3d(seq, [n, steps, inputs]), tf.tensor2d(stat, [n, stats])]) as tfTypes.Tensor2D).dataSync());
  const weights = extractForwardWeights(model);
  const scratch = createScratch(weights);
  const got = new Float32Array(n * outputs);
  for (let i = 0; i < n; i++) forward(weights, scratch, seq, i * steps * inputs, steps, stat, i * stats, got, i * outputs);
  for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i]! - expected[i]!) < 1e-4, `output ${i}: ${got[i]} vs tfjs ${expected[i]}`);
  // Not a constant: the outputs differ between origins.
  assert.ok(new Set(Array.from(got, (v) => v.toFixed(3))).size > outputs);
  model.dispose();
});
