/**
 * One run per key at a time: callers arriving while a run for their key is in flight get the
 * same promise. (Across processes, the pipeline's file locks do the same for each layer.)
 */
export class SingleFlight<T> {
  private readonly inFlight = new Map<string, Promise<T>>();

  /** `shared` is true for callers that joined a run someone else started. */
  async run(key: string, work: () => Promise<T>): Promise<{ value: T; shared: boolean }> {
    const existing = this.inFlight.get(key);
    if (existing) return { value: await existing, shared: true };
    const promise = work().finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, promise);
    return { value: await promise, shared: false };
  }

  get size(): number {
    return this.inFlight.size;
  }
}
