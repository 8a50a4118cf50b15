import { setTimeout as sleep } from 'node:timers/promises';
import { AbortedError, isServerSide, toAppError, type AppError } from '../core/errors.js';
import { BuildLimiter } from './build-limiter.js';
import type { BuildInput, BuiltImage, ImageBuilder } from './image-builder.js';
import { SingleFlight } from './single-flight.js';
import type { WorkflowEvent } from './workflow-event.js';

export interface ActiveBuild {
  clientId: string;
  state: 'queued' | 'running';
  since: string;
}

export interface BuildFlightsOptions {
  builder: ImageBuilder;
  /** Builds running at once across all clients (each holds a qemu/NBD session). */
  maxParallelBuilds?: number | undefined;
  /** Attempts in all, the first retry after `baseDelayMs`, doubling each time (default 3 from 2 s). */
  retry?: { attempts: number; baseDelayMs: number } | undefined;
  now?: (() => Date) | undefined;
}

/** What one flight builds, for whom, and where its events go. */
export interface FlightInput {
  clientId: string;
  build: Omit<BuildInput, 'signal' | 'onEvent'>;
  emit: (e: WorkflowEvent) => void;
}

/**
 * The builds of one process: single-flight per (client, base, plan digest) — callers asking for
 * a plan being built join it — bounded in number by a limiter, retried on failure, and
 * cancellable per client.
 */
export class BuildFlights {
  readonly #flights = new SingleFlight<BuiltImage>();
  readonly #cancels = new Map<string, Set<AbortController>>();
  readonly limiter: BuildLimiter;
  /** Builds queued or running now, by flight key (the dashboard's "builds" column). */
  readonly active = new Map<string, ActiveBuild>();
  /** Pipeline runs started (metrics, tests). */
  started = 0;
  /** Told each module's outcome and duration of every build (the metrics' histogram). */
  onModuleDone: ((m: { module: string; outcome: string; ms: number }) => void) | undefined;

  constructor(private readonly options: BuildFlightsOptions) {
    this.limiter = new BuildLimiter(options.maxParallelBuilds ?? 2);
  }

  /** `shared`: this caller joined a build another one started. */
  run({ clientId, build, emit }: FlightInput): Promise<{ value: BuiltImage; shared: boolean }> {
    const key = `${clientId}\n${build.base.key}\n${build.planDigest}`;
    return this.#flights.run(key, async () => {
      emit({ type: 'build', state: 'queued' });
      this.active.set(key, { clientId, state: 'queued', since: this.#nowIso() });
      const controller = new AbortController();
      const mine = this.#cancels.get(clientId) ?? new Set<AbortController>();
      mine.add(controller);
      this.#cancels.set(clientId, mine);
      try {
        return await this.limiter.run(async () => {
          controller.signal.throwIfAborted();
          emit({ type: 'build', state: 'started' });
          this.active.set(key, { clientId, state: 'running', since: this.#nowIso() });
          this.started++;
          const b0 = performance.now();
          const built = await withRetries({
            work: () =>
              this.options.builder.build({
                ...build,
                // Not a request's signal: a build is shared, and one caller hanging up must not cancel it for the others; `cancel` does.
                signal: controller.signal,
                onEvent: (event) => {
                  if (event.type === 'module-done') this.onModuleDone?.({ module: event.module, outcome: event.outcome, ms: event.ms });
                  emit({ type: 'pipeline', event });
                },
              }),
            retry: this.options.retry ?? { attempts: 3, baseDelayMs: 2000 },
            onRetry: ({ attempt, error, delayMs }) => emit({ type: 'build', state: 'retrying', message: `attempt ${attempt} failed (${error.message}); retrying in ${delayMs} ms`, ...(isServerSide(error) ? { serverSide: true as const } : {}) }),
            signal: controller.signal,
          });
          emit({ type: 'registered', digest: built.digest, version: built.version, ms: performance.now() - b0 });
          return built;
        });
      } catch (e) {
        throw controller.signal.aborted ? new AbortedError(`build of ${build.repository}`) : e;
      } finally {
        this.active.delete(key);
        mine.delete(controller);
        if (mine.size === 0) this.#cancels.delete(clientId);
      }
    });
  }

  /** Cancel a client's builds in flight or queued; their requests get the last good version or ABORTED. */
  cancel(clientId: string): number {
    const mine = [...(this.#cancels.get(clientId) ?? [])];
    for (const c of mine) c.abort();
    return mine.length;
  }

  #nowIso(): string {
    return (this.options.now?.() ?? new Date()).toISOString();
  }
}

/** Invalid input fails the same way every time: retrying it only delays the answer. */
const notRetried = ['VALIDATION', 'NOT_FOUND', 'UNSAFE_PATH', 'ABORTED'] as const;

async function withRetries<T>(input: {
  work: () => Promise<T>;
  retry: { attempts: number; baseDelayMs: number };
  onRetry: (info: { attempt: number; error: AppError; delayMs: number }) => void;
  signal: AbortSignal;
}): Promise<T> {
  const { attempts, baseDelayMs } = input.retry;
  for (let attempt = 1; ; attempt++) {
    try {
      return await input.work();
    } catch (e) {
      const err = toAppError(e);
      if (input.signal.aborted || attempt >= attempts || (notRetried as readonly string[]).includes(err.code)) throw err;
      const delayMs = baseDelayMs * 2 ** (attempt - 1);
      input.onRetry({ attempt, error: err, delayMs });
      // A cancel during the back-off ends it now, not when the sleep is over (`run` turns the rejection into ABORTED).
      await sleep(delayMs, undefined, { signal: input.signal });
    }
  }
}
