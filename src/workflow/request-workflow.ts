import { canonicalJson } from '../core/canonical-json.js';
import { sha256Digest } from '../core/digest.js';
import { isServerSide, toAppError } from '../core/errors.js';
import { clientRepository } from '../contracts/identifiers.js';
import { identify, type Identity } from '../identify/identify.js';
import type { BaseRef } from '../pipeline/personalize.js';
import { defaultPolicy } from '../policy/policy.js';
import { checkBaseAllowed, confineVector } from '../policy/vector-policy.js';
import { BuildFlights } from './build-flights.js';
import { obtainImage } from './obtain-image.js';
import type { RequestHistory } from './request-history.js';
import type { ImageSource, OutcomeEntry } from './request-outcomes.js';
import type { ImageRequest, RequestResult, RunOptions } from './request-result.js';
import { requestSeed } from './request-seed.js';
import type { RequestWorkflowDeps } from './request-workflow-deps.js';
import { SingleFlight } from './single-flight.js';
import { VersionMemo } from './version-memo.js';

/**
 * request → identify → predict → plan → image (prebuilt? else build through the layer cache and
 * register: obtain-image.ts) → grant and seed (request-seed.ts). Builds are single-flight per
 * (client, base, plan digest) and bounded in number (build-flights.ts); a failed build hands out
 * the client's last good version, marked as such, or the error.
 */
export class RequestWorkflow {
  /** This process's builds: the limiter, those active now, how many started, the module hook (metrics, dashboard). */
  readonly builds: BuildFlights;
  readonly #versions: VersionMemo;
  /** Pulls of a client's shared `latest` for its seed: requests of one client arrive together, one pull serves them. */
  readonly #syncs = new SingleFlight<unknown>();
  readonly #bases = new Map<string, { base: BaseRef & { name: string }; until: number }>();
  /** Answered requests by how the image was obtained, and failed ones (`error`). */
  readonly answered: Record<ImageSource | 'error', number> = { prebuilt: 0, built: 0, joined: 0, 'last-good': 0, error: 0 };

  constructor(private readonly deps: RequestWorkflowDeps) {
    this.builds = new BuildFlights({ builder: deps.builder, maxParallelBuilds: deps.maxParallelBuilds, retry: deps.retry, now: deps.now });
    this.#versions = new VersionMemo(deps.registry);
  }

  /** Where requests are recorded (what the proactive scheduler reads). */
  get history(): RequestHistory | undefined {
    return this.deps.history;
  }

  /** `proactive`: a build ahead by the scheduler, not a client's request (not recorded in the history). */
  async handle(request: ImageRequest, options: RunOptions = {}): Promise<RequestResult> {
    const t0 = performance.now();
    // Set once the caller is authorised for the identified client: only then is a failure that client's.
    const seen: { identity?: Identity } = {};
    try {
      const result = await this.run(request, options, seen);
      this.answered[result.source]++;
      await this.recordOutcome({
        at: this.nowIso(),
        clientId: result.clientId,
        category: result.category,
        source: result.source,
        proactive: options.proactive === true,
        ...(result.image.version !== undefined ? { version: result.image.version } : {}),
        digest: result.image.digest,
        ...(result.buildError ? { error: result.buildError } : {}),
        totalMs: result.timings.totalMs,
        ...(options.requestId ? { requestId: options.requestId } : {}),
      });
      return result;
    } catch (e) {
      this.answered.error++;
      if (seen.identity) {
        const err = toAppError(e);
        await this.recordOutcome({ at: this.nowIso(), clientId: seen.identity.clientId, category: seen.identity.category, source: 'error', proactive: options.proactive === true, error: { code: err.code, message: err.message, ...(isServerSide(err) ? { serverSide: true as const } : {}) }, totalMs: performance.now() - t0, ...(options.requestId ? { requestId: options.requestId } : {}) });
      }
      throw e;
    }
  }

  /** Cancel a client's builds in flight or queued; their requests get the last good version or ABORTED. */
  cancel(clientId: string): number {
    return this.builds.cancel(clientId);
  }

  /** The outcome log is for people: losing a line must not fail the request it describes. */
  private async recordOutcome(entry: OutcomeEntry): Promise<void> {
    await this.deps.outcomes?.record(entry).catch((e: unknown) => process.stderr.write(`request outcomes: ${(e as Error).message}\n`));
  }

  private nowIso(): string {
    return (this.deps.now?.() ?? new Date()).toISOString();
  }

  private async run(request: ImageRequest, options: RunOptions, seen: { identity?: Identity }): Promise<RequestResult> {
    const emit = options.onEvent ?? (() => undefined);
    const signal = options.signal ? { signal: options.signal } : {};
    const t0 = performance.now();
    let identity = options.identity ?? identify(this.deps.identifyConfig, request);
    if (identity.matchedBy === 'fallback') {
      const known = await this.deps.categoryOf?.(identity.clientId);
      if (known) identity = { ...identity, category: known, matchedBy: 'telemetry' };
    }
    options.authorizeClient?.(identity);
    seen.identity = identity;
    const policy = this.deps.policy ? await this.deps.policy() : defaultPolicy();
    const baseName = request.base ?? this.deps.defaultBase ?? 'debian-12';
    checkBaseAllowed(policy, baseName);
    if (!options.proactive) {
      await this.deps.history?.record({ at: this.nowIso(), ...identity, ...(request.base ? { base: request.base } : {}), ...(request.account !== undefined ? { account: request.account } : {}) });
    }
    const t1 = performance.now();
    emit({ type: 'identified', ...identity, ms: t1 - t0 });

    // Whatever the predictor proposes (trained models over telemetry, category vectors), the image gets only what the policy allows.
    const predicted = await this.deps.predictor.predict({ clientId: identity.clientId, category: identity.category, ...signal });
    const vector = confineVector(predicted, policy).vector;
    const vectorDigest = sha256Digest(canonicalJson(vector));
    const base = await this.base(baseName);
    // Consent is read at every request: a grant or a withdrawal changes the plan (the agent's layer).
    const inGuestAgent = this.deps.agent !== undefined && ((await this.deps.inGuestConsent?.(identity.clientId)) ?? false);
    // Planning is pure and cheap (dataset digests are memoised by file identity), so it runs every time.
    const planDigest = await this.deps.builder.planDigest({ base, vector, policy, inGuestAgent, ...signal });
    const t2 = performance.now();
    emit({ type: 'predicted', vectorDigest, planDigest, ms: t2 - t1 });

    const repository = clientRepository(identity.clientId);
    const { source, image, vmSpec, buildError } = await obtainImage({
      clientId: identity.clientId,
      build: { repository, base, vector, vectorDigest, planDigest, policy, inGuestAgent },
      versions: this.#versions,
      flights: this.builds,
      shared: this.deps.shared,
      emit,
      signal: options.signal,
    });
    const t3 = performance.now();

    const grant = this.deps.grants.grantFor(identity.clientId);
    // The version actually handed out (a last-good one may predate the consent, and carry no agent).
    const agentInImage = inGuestAgent && source !== 'last-good';
    const shared = this.deps.shared;
    const { seed, credentials } = await requestSeed({
      clientId: identity.clientId,
      repository,
      digest: image.digest,
      agentInImage,
      deps: this.deps,
      versions: this.#versions,
      syncShared: shared ? (r) => this.#syncs.run(r, () => shared.syncLatest(r)) : undefined,
    });
    return {
      clientId: identity.clientId,
      category: identity.category,
      matchedBy: identity.matchedBy,
      vectorDigest,
      planDigest,
      source,
      image: { repository, reference: `${repository}@${image.digest}`, ...(shared ? { registry: shared.address } : {}), digest: image.digest, ...(image.version !== undefined ? { version: image.version } : {}), tags: image.tags },
      vmSpec,
      ...(buildError ? { buildError } : {}),
      grant: { token: grant.token, expires_in: grant.expires_in, issued_at: grant.issued_at, scope: `repository:${repository}:pull` },
      seed,
      credentials,
      inGuestAgent: agentInImage,
      timings: { identifyMs: t1 - t0, predictMs: t2 - t1, imageMs: t3 - t2, totalMs: performance.now() - t0 },
    };
  }

  /** Base lookups read the catalog folder; a few seconds of staleness is fine for a name → base mapping. */
  private async base(name: string): Promise<BaseRef & { name: string }> {
    const cached = this.#bases.get(name);
    if (cached && cached.until > Date.now()) return cached.base;
    const base = await this.deps.resolveBase(name);
    this.#bases.set(name, { base, until: Date.now() + 10_000 });
    return base;
  }
}
