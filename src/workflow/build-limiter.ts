/** At most `limit` builds run at once; the rest wait in arrival order. */
export class BuildLimiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  /** The most that ever ran at once (tests, metrics). */
  peak = 0;

  get running(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length;
  }

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError('limit must be a positive integer');
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    this.peak = Math.max(this.peak, this.active);
    try {
      return await work();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}
