import { ValidationError } from '../../../core/errors.js';
import { trainingReport, type SavedModel, type SequenceModel, type SequenceQuery, type SequenceSession, type TrainingReport } from '../model.js';
import { Counter } from './counter.js';

/**
 * The sequence baselines of the datasets README, all online (predict, then learn the true item):
 * most-frequent, most-recent (repeat the last, then the ones before), and the first-order Markov
 * chain that falls back on the most frequent items. A subject's session learns from its own
 * history only; `fit` keeps the pooled counts of the population, used for a subject with no
 * history of its own (cold start).
 */
export const sequenceBaselineIds = ['most-frequent', 'most-recent', 'markov-1'] as const;
export type SequenceBaselineId = (typeof sequenceBaselineIds)[number];

export function createSequenceBaseline(id: SequenceBaselineId): SequenceModel {
  if (!sequenceBaselineIds.includes(id)) throw new ValidationError('model', `unknown sequence baseline ${JSON.stringify(id)}`);
  let pooled = new Counter();
  const version = '1';
  return {
    id,
    version,
    kind: 'sequence',
    async fit(data): Promise<TrainingReport> {
      const started = performance.now();
      pooled = Counter.pooled(data);
      return trainingReport({ id, version }, started, pooled.total, { vocabulary: pooled.distinct });
    },
    predict({ history }: SequenceQuery): SequenceSession {
      return history.length === 0 ? pooledSession(pooled) : baselineSession(id, history);
    },
    async save(): Promise<SavedModel> {
      return { id, version, state: { pooled: pooled.toJSON() } };
    },
    async load(saved): Promise<void> {
      pooled = Counter.from((saved.state as { pooled: [string, number][] }).pooled);
    },
  };
}

function pooledSession(pooled: Counter): SequenceSession {
  const own = new Counter();
  return {
    rank: (k) => (own.total > 0 ? [...own.top(k), ...pooled.top(k, new Set(own.top(k)))].slice(0, k) : pooled.top(k)),
    distribution: (k) => pooled.top(k).map((item) => ({ item, p: pooled.get(item) / Math.max(1, pooled.total) })),
    observe: (item) => own.add(item),
  };
}

function baselineSession(id: SequenceBaselineId, history: readonly string[]): SequenceSession {
  // The README's rule for equal counts: the command seen first wins.
  const freq = new Counter('first-seen');
  const next = new Map<string, Counter>();
  const recent: string[] = [];
  let last: string | undefined;
  const observe = (item: string): void => {
    freq.add(item);
    if (last !== undefined) {
      let c = next.get(last);
      if (!c) next.set(last, (c = new Counter('first-seen')));
      c.add(item);
    }
    last = item;
    const at = recent.indexOf(item);
    if (at >= 0) recent.splice(at, 1);
    recent.unshift(item);
    if (recent.length > 64) recent.pop();
  };
  for (const item of history) observe(item);
  const rank = (k: number): string[] => {
    if (id === 'most-frequent') return freq.top(k);
    if (id === 'most-recent') return recent.slice(0, k);
    const successors = last === undefined ? [] : (next.get(last)?.top(k) ?? []);
    return successors.length >= k ? successors : [...successors, ...freq.top(k, new Set(successors))].slice(0, k);
  };
  return {
    rank,
    distribution(k) {
      const c = id === 'markov-1' && last !== undefined ? next.get(last) : undefined;
      const base = c && c.total > 0 ? c : freq;
      return rank(k).map((item) => ({ item, p: base.get(item) / Math.max(1, base.total) }));
    },
    observe,
  };
}
