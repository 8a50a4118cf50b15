import { AbortedError } from '../core/errors.js';
import type { SequenceModel } from './models/model.js';

export interface SequenceBacktestOptions {
  /** Items 0 .. trainItems-1 of each subject are its history. */
  trainItems: number;
  /** Items trainItems .. trainItems+testItems-1 are predicted online, one at a time. */
  testItems: number;
  /** Block length for the set recall (programs used in the next block of activity). */
  blockItems: number;
  /** The k of recall@k. */
  recallKs: readonly number[];
  signal?: AbortSignal;
}

export interface SequenceModelResult {
  model: string;
  version: string;
  top1: number;
  top5: number;
  /** Share of the distinct programs of the next block found among the k predicted at its start. */
  recallAtK: Record<string, number>;
  predictions: number;
}

/**
 * Online next-item backtest: for each subject the model starts from the subject's first
 * `trainItems` items, then predicts each test item before it is revealed (predict-then-update).
 * Set recall@k is measured at the start of each block of `blockItems` test items, with the
 * ranking the model has at that moment.
 */
export function backtestSequences(subjects: readonly (readonly string[])[], models: readonly SequenceModel[], options: SequenceBacktestOptions): SequenceModelResult[] {
  const maxK = Math.max(5, ...options.recallKs);
  return models.map((model) => {
    let n = 0;
    let hit1 = 0;
    let hit5 = 0;
    const recallSum = Object.fromEntries(options.recallKs.map((k) => [k, 0])) as Record<number, number>;
    let blocks = 0;
    for (const seq of subjects) {
      if (options.signal?.aborted) throw new AbortedError('backtest');
      const session = model.predict({ history: seq.slice(0, options.trainItems) });
      const end = Math.min(seq.length, options.trainItems + options.testItems);
      for (let i = options.trainItems; i < end; i++) {
        const offset = i - options.trainItems;
        const needSet = offset % options.blockItems === 0 && i + options.blockItems <= end;
        const ranked = session.rank(needSet ? maxK : 5);
        if (needSet) {
          const used = new Set(seq.slice(i, i + options.blockItems));
          for (const k of options.recallKs) {
            const predicted = new Set(ranked.slice(0, k));
            let found = 0;
            for (const u of used) if (predicted.has(u)) found++;
            recallSum[k]! += found / used.size;
          }
          blocks++;
        }
        const actual = seq[i]!;
        if (ranked[0] === actual) hit1++;
        if (ranked.slice(0, 5).includes(actual)) hit5++;
        n++;
        session.observe(actual);
      }
    }
    return {
      model: model.id,
      version: model.version,
      top1: n ? hit1 / n : 0,
      top5: n ? hit5 / n : 0,
      recallAtK: Object.fromEntries(options.recallKs.map((k) => [String(k), blocks ? recallSum[k]! / blocks : 0])),
      predictions: n,
    };
  });
}
