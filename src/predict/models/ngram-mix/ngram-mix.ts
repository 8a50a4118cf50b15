import { trainingReport, type SavedModel, type SequenceModel, type SequenceQuery, type SequenceSession, type TrainingReport } from '../model.js';
import { Counter } from '../baselines/counter.js';

/**
 * Interpolated n-gram model (Witten–Bell smoothing, orders 0..maxOrder) learnt online from the
 * subject's own stream, backed off to the pooled population for items the subject never used.
 * It is the classical "prediction by partial match" idea: a long context predicts sharply when
 * it has been seen, and hands its probability mass down to shorter contexts in proportion to how
 * many different continuations it has had. On command streams it beats the first-order chain
 * because habits such as `cd; ls` vs `make; ls` need two items of context.
 */
export interface NgramMixOptions {
  maxOrder: number;
  /** Weight of the pooled population in the order-0 distribution (pseudo-counts). */
  priorWeight: number;
  /** Extra weight of recently used items in the order-0 distribution: a short-term cache. */
  cacheWeight: number;
  cacheSize: number;
}

export const defaultNgramMixOptions: NgramMixOptions = { maxOrder: 4, priorWeight: 2, cacheWeight: 0.15, cacheSize: 50 };

export function createNgramMix(options: Partial<NgramMixOptions> = {}): SequenceModel {
  const opts = { ...defaultNgramMixOptions, ...options };
  const id = 'ngram-mix';
  const version = '1';
  let pooled = new Counter();
  return {
    id,
    version,
    kind: 'sequence',
    async fit(data): Promise<TrainingReport> {
      const started = performance.now();
      pooled = Counter.pooled(data);
      return trainingReport({ id, version }, started, pooled.total, { vocabulary: pooled.distinct, maxOrder: opts.maxOrder });
    },
    predict({ history }: SequenceQuery): SequenceSession {
      return new NgramSession(opts, pooled, history);
    },
    async save(): Promise<SavedModel> {
      return { id, version, state: { options: opts, pooled: pooled.toJSON() } };
    },
    async load(saved): Promise<void> {
      const state = saved.state as { pooled: [string, number][] };
      pooled = Counter.from(state.pooled);
    },
  };
}

class NgramSession implements SequenceSession {
  /** contexts[k]: "a\u0000b" (last k items) → counts of the next item. */
  private readonly contexts: Map<string, Counter>[];
  private readonly unigram = new Counter();
  private readonly recent: string[] = [];
  private readonly tail: string[] = [];
  private readonly priorTop: string[];

  constructor(
    private readonly opts: NgramMixOptions,
    private readonly pooled: Counter,
    history: readonly string[],
  ) {
    this.contexts = Array.from({ length: opts.maxOrder + 1 }, () => new Map());
    this.priorTop = pooled.top(50);
    for (const item of history) this.observe(item);
  }

  observe(item: string): void {
    for (let k = 1; k <= this.opts.maxOrder && k <= this.tail.length; k++) {
      const key = this.tail.slice(this.tail.length - k).join('\u0000');
      let c = this.contexts[k]!.get(key);
      if (!c) this.contexts[k]!.set(key, (c = new Counter()));
      c.add(item);
    }
    this.unigram.add(item);
    this.tail.push(item);
    if (this.tail.length > this.opts.maxOrder) this.tail.shift();
    this.recent.push(item);
    if (this.recent.length > this.opts.cacheSize) this.recent.shift();
  }

  distribution(k: number): { item: string; p: number }[] {
    const candidates = new Set<string>();
    const chain: Counter[] = [];
    for (let order = Math.min(this.opts.maxOrder, this.tail.length); order >= 1; order--) {
      const c = this.contexts[order]!.get(this.tail.slice(this.tail.length - order).join('\u0000'));
      if (c) {
        chain.push(c);
        for (const item of c.counts.keys()) candidates.add(item);
      }
    }
    for (const item of this.unigram.top(20)) candidates.add(item);
    for (const item of this.recent) candidates.add(item);
    for (const item of this.priorTop.slice(0, 10)) candidates.add(item);
    const scored: { item: string; p: number }[] = [];
    for (const item of candidates) scored.push({ item, p: this.probability(item, chain) });
    scored.sort((a, b) => b.p - a.p);
    return scored.slice(0, k);
  }

  rank(k: number): string[] {
    return this.distribution(k).map((d) => d.item);
  }

  /** P(item | context), highest order first in `chain`, recursing down to order 0. */
  private probability(item: string, chain: readonly Counter[]): number {
    const { priorWeight, cacheWeight } = this.opts;
    const pooledP = this.pooled.total > 0 ? this.pooled.get(item) / this.pooled.total : 0;
    let cacheP = 0;
    if (this.recent.length > 0) {
      let c = 0;
      for (const r of this.recent) if (r === item) c++;
      cacheP = c / this.recent.length;
    }
    const unigramP = (this.unigram.get(item) + priorWeight * pooledP) / (this.unigram.total + priorWeight || 1);
    let p = (1 - cacheWeight) * unigramP + cacheWeight * cacheP;
    for (let i = chain.length - 1; i >= 0; i--) {
      const c = chain[i]!;
      const u = c.distinct;
      p = (c.get(item) + u * p) / (c.total + u);
    }
    return p;
  }
}
