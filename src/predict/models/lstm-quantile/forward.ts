import type * as tfTypes from '@tensorflow/tfjs';
import { ValidationError } from '../../../core/errors.js';

/**
 * The trained forecaster's forward pass in plain TypeScript, for prediction. Answering one usage
 * vector asks the network about one origin: tfjs would dispatch a few hundred tiny WebAssembly
 * kernels for that (and allocate tensors the GC must then chase), which put the vector's p99 at
 * 60 ms; these few thousand multiply-adds take microseconds. Training keeps using tfjs. The
 * maths is exactly that of tfjs-layers' LSTM (gates i, f, c, o; hard-sigmoid recurrent
 * activation, tanh activation) and Dense layers; a test holds the two to the same outputs.
 */
export interface DenseWeights {
  /** Row-major [inputs × outputs]. */
  kernel: Float32Array;
  bias: Float32Array;
  inputs: number;
  outputs: number;
}

export interface ForwardWeights {
  lstm: { kernel: Float32Array; recurrent: Float32Array; bias: Float32Array; inputs: number; units: number };
  hidden: DenseWeights;
  nonlinear: DenseWeights;
  linear: DenseWeights;
}

/** Layer names the network is built with; the forward pass finds its weights by them. */
export const forwardLayerNames = { lstm: 'lstm', hidden: 'hidden', nonlinear: 'nonlinear', linear: 'linear' } as const;

export function extractForwardWeights(model: tfTypes.LayersModel): ForwardWeights {
  const values = (name: string): Float32Array[] => {
    const layer = model.layers.find((l) => l.name === name);
    if (!layer) throw new ValidationError('model', `the network has no layer ${name}`);
    return layer.getWeights().map((w) => w.dataSync() as Float32Array);
  };
  const shapes = (name: string): number[][] => model.layers.find((l) => l.name === name)!.getWeights().map((w) => w.shape);
  const dense = (name: string): DenseWeights => {
    const [kernel, bias] = values(name);
    const [inputs, outputs] = shapes(name)[0]!;
    return { kernel: Float32Array.from(kernel!), bias: Float32Array.from(bias!), inputs: inputs!, outputs: outputs! };
  };
  const [kernel, recurrent, bias] = values(forwardLayerNames.lstm);
  const [inputs, four] = shapes(forwardLayerNames.lstm)[0]!;
  return {
    lstm: { kernel: Float32Array.from(kernel!), recurrent: Float32Array.from(recurrent!), bias: Float32Array.from(bias!), inputs: inputs!, units: four! / 4 },
    hidden: dense(forwardLayerNames.hidden),
    nonlinear: dense(forwardLayerNames.nonlinear),
    linear: dense(forwardLayerNames.linear),
  };
}

const hardSigmoid = (x: number): number => (x <= -2.5 ? 0 : x >= 2.5 ? 1 : 0.2 * x + 0.5);

/** Scratch buffers reused between calls (one forecaster answers one origin at a time). */
export interface ForwardScratch {
  h: Float32Array;
  c: Float32Array;
  z: Float32Array;
  joined: Float32Array;
  hidden: Float32Array;
}

export function createScratch(w: ForwardWeights): ForwardScratch {
  const u = w.lstm.units;
  return { h: new Float32Array(u), c: new Float32Array(u), z: new Float32Array(4 * u), joined: new Float32Array(w.hidden.inputs), hidden: new Float32Array(w.hidden.outputs) };
}

function denseInto(d: DenseWeights, x: Float32Array, xOffset: number, out: Float32Array, outOffset: number, relu: boolean): void {
  for (let j = 0; j < d.outputs; j++) {
    let s = d.bias[j]!;
    for (let i = 0; i < d.inputs; i++) s += x[xOffset + i]! * d.kernel[i * d.outputs + j]!;
    out[outOffset + j] = relu && s < 0 ? 0 : s;
  }
}

/**
 * Outputs of one origin: `seq` holds `steps × lstm.inputs` values from `seqOffset`, `stat` the
 * summary features from `statOffset`; the network's outputs are written to `out` from `outOffset`.
 */
export function forward(w: ForwardWeights, scratch: ForwardScratch, seq: Float32Array, seqOffset: number, steps: number, stat: Float32Array, statOffset: number, out: Float32Array, outOffset: number): void {
  const { kernel, recurrent, bias, inputs, units: u } = w.lstm;
  const { h, c, z } = scratch;
  h.fill(0);
  c.fill(0);
  for (let t = 0; t < steps; t++) {
    const x = seqOffset + t * inputs;
    for (let j = 0; j < 4 * u; j++) {
      let s = bias[j]!;
      for (let i = 0; i < inputs; i++) s += seq[x + i]! * kernel[i * 4 * u + j]!;
      for (let i = 0; i < u; i++) s += h[i]! * recurrent[i * 4 * u + j]!;
      z[j] = s;
    }
    for (let j = 0; j < u; j++) {
      const ig = hardSigmoid(z[j]!);
      const fg = hardSigmoid(z[u + j]!);
      const cc = fg * c[j]! + ig * Math.tanh(z[2 * u + j]!);
      const og = hardSigmoid(z[3 * u + j]!);
      c[j] = cc;
      h[j] = og * Math.tanh(cc);
    }
  }
  const statCount = w.linear.inputs;
  const { joined, hidden } = scratch;
  joined.set(h, 0);
  for (let i = 0; i < statCount; i++) joined[u + i] = stat[statOffset + i]!;
  denseInto(w.hidden, joined, 0, hidden, 0, true);
  denseInto(w.nonlinear, hidden, 0, out, outOffset, false);
  for (let j = 0; j < w.linear.outputs; j++) {
    let s = w.linear.bias[j]!;
    for (let i = 0; i < statCount; i++) s += stat[statOffset + i]! * w.linear.kernel[i * w.linear.outputs + j]!;
    out[outOffset + j] = out[outOffset + j]! + s;
  }
}
