import { setTimeout as delay } from 'node:timers/promises';
import { AppError, toAppError } from '../core/errors.js';
import type { BaseRef, PersonalizeEvent } from '../pipeline/personalize.js';
import type { ImageBuilder } from '../workflow/image-builder.js';
import type { BuildQueue, TakenBuild } from './build-queue.js';

export type WorkerEvent =
  | { type: 'taken'; id: string; clientId: string; repository: string; attempt: number }
  | { type: 'pipeline'; id: string; event: PersonalizeEvent }
  | { type: 'registered'; id: string; repository: string; digest: string; version: number; ms: number }
  | { type: 'failed'; id: string; repository: string; code: string; message: string; next: 'retrying' | 'failed' }
  | { type: 'cancelled'; id: string; repository: string }
  | { type: 'lost'; id: string; repository: string }
  | { type: 'handed-back'; id: string; repository: string }
  | { type: 'swept'; ids: string[] }
  | { type: 'error'; message: string };

export interface BuildWorkerDeps {
  queue: BuildQueue;
  /** This machine's builder: its own layer cache and runtime folder, the shared registry. */
  builder: ImageBuilder;
  /** This machine's copy of a base by name (`findBase(paths.bases, name)`). */
  resolveBase: (name: string) => Promise<BaseRef & { name: string }>;
  /** Builds at once in this process (each holds a qemu/NBD session). */
  concurrency?: number;
  /** How often to look for a build when none was waiting. */
  pollMs?: number;
  onEvent?: (e: WorkerEvent) => void;
}

/**
 * Takes builds from the queue and runs each with the same builder as `serve` does in process.
 * While a build runs its lease is renewed every heartbeat; a cancelled job or a lost lease aborts
 * the build. The worker also sweeps the leases of dead workers, so their builds are retried here
 * or elsewhere. Builds are at-least-once: the builder finds a version already registered for the
 * same (repository, base, plan) and returns it instead of registering a second one.
 */
export class BuildWorker {
  completed = 0;
  failed = 0;
  private readonly running = new Map<string, Promise<void>>();

  constructor(private readonly deps: BuildWorkerDeps) {}

  /** Work until `signal` aborts; then running builds are stopped and handed back to the queue. */
  async run(signal: AbortSignal): Promise<void> {
    const { queue } = this.deps;
    const emit = this.deps.onEvent ?? (() => undefined);
    const concurrency = this.deps.concurrency ?? 1;
    const sweeper = setInterval(() => {
      void queue.sweep().then(
        (ids) => ids.length > 0 && emit({ type: 'swept', ids }),
        (e: unknown) => emit({ type: 'error', message: `sweep: ${(e as Error).message}` }),
      );
    }, queue.tuning.heartbeatSeconds * 1000);
    try {
      while (!signal.aborted) {
        if (this.running.size >= concurrency) {
          await Promise.race([...this.running.values(), aborted(signal)]);
          continue;
        }
        let taken: TakenBuild | undefined;
        try {
          taken = await queue.take();
        } catch (e) {
          // The database restarting or unreachable: say so and keep trying, never exit.
          emit({ type: 'error', message: `take: ${(e as Error).message}` });
        }
        if (!taken) {
          await delay(this.deps.pollMs ?? 1000, undefined, { signal }).catch(() => undefined);
          continue;
        }
        const t = taken;
        this.running.set(t.id, this.runOne(t, signal).finally(() => this.running.delete(t.id)));
      }
    } finally {
      clearInterval(sweeper);
      await Promise.allSettled(this.running.values());
    }
  }

  private async runOne(taken: TakenBuild, stopping: AbortSignal): Promise<void> {
    const { queue } = this.deps;
    const emit = this.deps.onEvent ?? (() => undefined);
    const { job } = taken;
    const controller = new AbortController();
    let ended: 'cancelled' | 'lost' | undefined;
    const stop = (): void => controller.abort();
    stopping.addEventListener('abort', stop, { once: true });
    let renewedAt = Date.now();
    const heartbeat = setInterval(() => {
      void queue.renew(taken).then(
        (state) => {
          renewedAt = Date.now();
          if (state !== 'held' && !ended) {
            ended = state;
            controller.abort();
          }
        },
        (e: unknown) => {
          emit({ type: 'error', message: `heartbeat of ${taken.id}: ${(e as Error).message}` });
          // Cut off from the database for a whole lease: another worker may have the build by now, so stop.
          if (Date.now() - renewedAt > queue.tuning.leaseSeconds * 1000 && !ended) {
            ended = 'lost';
            controller.abort();
          }
        },
      );
    }, queue.tuning.heartbeatSeconds * 1000);
    emit({ type: 'taken', id: taken.id, clientId: job.clientId, repository: job.repository, attempt: taken.attempt });
    const t0 = performance.now();
    try {
      const base = await this.deps.resolveBase(job.base.name);
      if (base.key !== job.base.key) {
        throw new AppError('CONFLICT', `base ${job.base.name} here is ${base.key}, the build needs ${job.base.key}: build the same base on every machine ('prescient base build')`);
      }
      const input = { base, vector: job.vector, policy: job.policy, ...(job.inGuestAgent !== undefined ? { inGuestAgent: job.inGuestAgent } : {}) };
      const planned = await this.deps.builder.planDigest({ ...input, signal: controller.signal });
      if (planned !== job.planDigest) {
        throw new AppError('CONFLICT', `this worker plans ${planned} for the vector, the server planned ${job.planDigest}: run the same Prescient version on the servers and workers`);
      }
      const built = await this.deps.builder.build({
        ...input,
        repository: job.repository,
        vectorDigest: job.vectorDigest,
        planDigest: job.planDigest,
        signal: controller.signal,
        onEvent: (event) => emit({ type: 'pipeline', id: taken.id, event }),
      });
      await queue.complete(taken, { digest: built.digest, version: built.version, tags: built.tags, spec: built.spec as unknown as Record<string, unknown> });
      this.completed++;
      emit({ type: 'registered', id: taken.id, repository: job.repository, digest: built.digest, version: built.version, ms: performance.now() - t0 });
    } catch (e) {
      const err = toAppError(e);
      try {
        if (ended === 'cancelled') emit({ type: 'cancelled', id: taken.id, repository: job.repository });
        else if (ended === 'lost') emit({ type: 'lost', id: taken.id, repository: job.repository });
        else if (stopping.aborted) {
          await queue.giveBack(taken, 'the worker stopped');
          emit({ type: 'handed-back', id: taken.id, repository: job.repository });
        } else {
          this.failed++;
          const next = await queue.fail(taken, err);
          emit({ type: 'failed', id: taken.id, repository: job.repository, code: err.code, message: err.message, next });
        }
      } catch (f) {
        emit({ type: 'error', message: `reporting ${taken.id}: ${(f as Error).message}` });
      }
    } finally {
      clearInterval(heartbeat);
      stopping.removeEventListener('abort', stop);
    }
  }
}

function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
}

