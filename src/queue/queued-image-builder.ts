import type { Digest } from '../core/digest.js';
import { defaultPolicy } from '../policy/policy.js';
import type { VmSpec } from '../pipeline/vm-spec.js';
import type { BuildInput, BuiltImage, ImageBuilder } from '../workflow/image-builder.js';
import type { BuildState } from './build-job.js';
import type { BuildQueue } from './build-queue.js';

/**
 * The API server's builder when a queue is configured: planning stays here (pure, cheap: it decides
 * prebuilt or not), building goes to the queue, and the request waits for the job as it waited for
 * the in-process build (same answer, same timings shape). An aborted wait — the build cancelled
 * through the workflow — cancels the job, and its worker stops at its next heartbeat.
 */
export class QueuedImageBuilder implements ImageBuilder {
  constructor(private readonly deps: { queue: BuildQueue; planner: Pick<ImageBuilder, 'planDigest'>; onState?: (e: { id: string; state: BuildState | 'joined' }) => void }) {}

  planDigest(input: Parameters<ImageBuilder['planDigest']>[0]): Promise<Digest> {
    return this.deps.planner.planDigest(input);
  }

  async build(input: BuildInput): Promise<BuiltImage> {
    const { queue } = this.deps;
    const { id, joined } = await queue.enqueue({
      clientId: input.repository.replace(/^clients\//, ''),
      repository: input.repository,
      base: { name: input.base.name, key: input.base.key },
      vector: input.vector,
      vectorDigest: input.vectorDigest,
      planDigest: input.planDigest,
      policy: input.policy ?? defaultPolicy(),
      ...(input.inGuestAgent !== undefined ? { inGuestAgent: input.inGuestAgent } : {}),
    });
    if (joined) this.deps.onState?.({ id, state: 'joined' });
    try {
      const r = await queue.wait(id, { ...(input.signal ? { signal: input.signal } : {}), onState: (state) => this.deps.onState?.({ id, state }) });
      return { digest: r.digest, version: r.version, tags: r.tags, spec: r.spec as unknown as VmSpec };
    } catch (e) {
      if (input.signal?.aborted) await queue.cancel(id).catch(() => undefined);
      throw e;
    }
  }
}
