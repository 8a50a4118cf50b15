/**
 * How equal counts are ranked: by most recent use (what the n-gram models learn best with), or
 * by first sighting, as Python's `Counter.most_common` does — the rule the datasets README's
 * reference baselines are defined with.
 */
export type TieRule = 'most-recent' | 'first-seen';

/** Counts of items with the order in which they are best ranked (count, then the tie rule). */
export class Counter {
  constructor(readonly ties: TieRule = 'most-recent') {}

  readonly counts = new Map<string, number>();
  private readonly lastSeen = new Map<string, number>();
  total = 0;
  private clock = 0;

  add(item: string, by = 1): void {
    this.counts.set(item, (this.counts.get(item) ?? 0) + by);
    if (this.ties === 'most-recent' || !this.lastSeen.has(item)) this.lastSeen.set(item, this.clock++);
    this.total += by;
  }

  get(item: string): number {
    return this.counts.get(item) ?? 0;
  }

  get distinct(): number {
    return this.counts.size;
  }

  top(k: number, exclude?: ReadonlySet<string>): string[] {
    const out: [string, number][] = [];
    for (const e of this.counts) if (!exclude?.has(e[0])) out.push(e);
    const sign = this.ties === 'most-recent' ? 1 : -1;
    out.sort((a, b) => b[1] - a[1] || sign * (this.lastSeen.get(b[0])! - this.lastSeen.get(a[0])!));
    return out.slice(0, k).map((e) => e[0]);
  }

  toJSON(): [string, number][] {
    return [...this.counts];
  }

  /** Every item of every sequence counted once: what a sequence model pools over its training data. */
  static pooled(sequences: Iterable<Iterable<string>>, ties: TieRule = 'most-recent'): Counter {
    const c = new Counter(ties);
    for (const seq of sequences) for (const item of seq) c.add(item);
    return c;
  }

  static from(entries: readonly [string, number][], ties: TieRule = 'most-recent'): Counter {
    const c = new Counter(ties);
    for (const [k, v] of entries) c.add(k, v);
    return c;
  }
}
