/** Counts of items with the order in which they are best ranked (count, then most recent use). */
export class Counter {
  readonly counts = new Map<string, number>();
  private readonly lastSeen = new Map<string, number>();
  total = 0;
  private clock = 0;

  add(item: string, by = 1): void {
    this.counts.set(item, (this.counts.get(item) ?? 0) + by);
    this.lastSeen.set(item, this.clock++);
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
    out.sort((a, b) => b[1] - a[1] || this.lastSeen.get(b[0])! - this.lastSeen.get(a[0])!);
    return out.slice(0, k).map((e) => e[0]);
  }

  toJSON(): [string, number][] {
    return [...this.counts];
  }

  static from(entries: readonly [string, number][]): Counter {
    const c = new Counter();
    for (const [k, v] of entries) c.add(k, v);
    return c;
  }
}
