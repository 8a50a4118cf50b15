import type * as tfTypes from '@tensorflow/tfjs';
import { AbortedError } from '../../core/errors.js';

/** Why a training loop ended: it ran every epoch, or the time budget ran out first. */
export type TrainStop = 'epochs' | 'time budget';

export interface TrainLoopOptions {
  /** Names the model in the error an abort raises (`training <id>`). */
  id: string;
  epochs: number;
  samples: number;
  batchSize: number;
  /** `performance.now()` when training began: the time budget counts from there (preparation included). */
  startedAt: number;
  timeBudgetMs: number;
  signal?: AbortSignal | undefined;
  /** One optimiser step on samples [from, from + size); returns that batch's loss. */
  step: (batch: { from: number; size: number }) => number;
  /** After each whole epoch (a cut-short one is not reported), with the mean loss of its batches. */
  endEpoch?: (epoch: { index: number; meanLoss: number; batches: number }) => void;
}

/**
 * The mini-batch loop of the networks (gru-next, lstm-quantile): epochs of consecutive batches,
 * an abort checked before every batch, a time budget that keeps what is learnt so far, and a
 * yield every eight batches so that a Ctrl-C (AbortSignal) and the progress display get their
 * turn on a busy event loop. What a step computes, and what an epoch's end decides (the best
 * weights, a progress line), stay with each model.
 */
export async function trainLoop(options: TrainLoopOptions): Promise<{ epochs: number; stoppedBy: TrainStop }> {
  const { id, epochs, samples, batchSize, startedAt, timeBudgetMs, signal, step, endEpoch } = options;
  const batches = Math.ceil(samples / batchSize);
  let done = 0;
  for (let e = 0; e < epochs; e++) {
    let sum = 0;
    for (let b = 0; b < batches; b++) {
      if (signal?.aborted) throw new AbortedError(`training ${id}`);
      if (performance.now() - startedAt > timeBudgetMs) return { epochs: done, stoppedBy: 'time budget' };
      const from = b * batchSize;
      sum += step({ from, size: Math.min(batchSize, samples - from) });
      if (b % 8 === 7) await new Promise((r) => setImmediate(r));
    }
    done++;
    endEpoch?.({ index: e, meanLoss: sum / batches, batches });
  }
  return { epochs: done, stoppedBy: 'epochs' };
}

/** One optimiser step on `loss`, and the loss's value (its tensor freed): what a step returns. */
export function minimizeLoss(optimizer: tfTypes.Optimizer, loss: () => tfTypes.Scalar): number {
  const cost = optimizer.minimize(loss, true)!;
  const value = cost.dataSync()[0]!;
  cost.dispose();
  return value;
}
