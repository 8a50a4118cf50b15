import { canonicalJson } from '../core/canonical-json.js';
import { sha256Digest, type Digest } from '../core/digest.js';
import { AbortedError, toAppError, type AppError } from '../core/errors.js';
import { clientRepository } from '../contracts/identifiers.js';
import { type Grants } from '../grants/grants.js';
import { identify, type Identity, type IdentifyRequest } from '../identify/identify.js';
import type { IdentifyConfig } from '../identify/rules.js';
import type { BaseRef, PersonalizeEvent } from '../pipeline/personalize.js';
import type { VmSpec } from '../pipeline/vm-spec.js';
import { defaultPolicy, type PolicySource } from '../policy/policy.js';
import { checkBaseAllowed, confineVector } from '../policy/vector-policy.js';
import { seedFiles } from '../pipeline/spec/cloud-init.js';
import { agentSeedFile } from '../guest/agent-seed.js';
import type { SeedFile, SeedLogin } from '../pipeline/spec/cloud-init.js';
import type { MachineCredentials } from '../pipeline/spec/machine-seed.js';
import { seedOfVersion, versionProvenance, type VersionProvenance } from '../pipeline/spec/version-seed.js';
import type { Registry } from '../registry/registry.js';
import { BuildLimiter } from './build-limiter.js';
import type { BuiltImage, ImageBuilder } from './image-builder.js';
import { imageProvenance, latestImage, type ImageProvenance, type LatestImage } from './latest-image.js';
import type { Predictor } from '../contracts/predictor.js';
import type { RequestHistory } from './request-history.js';
import type { ImageSource, OutcomeEntry, RequestOutcomes } from './request-outcomes.js';
import { SingleFlight } from './single-flight.js';

export interface ImageRequest extends IdentifyRequest {
  /** Base image name (`debian-12`); the default base when omitted. */
  base?: string | undefined;
}

/**
 * How the image was obtained: `prebuilt` (already registered for this vector, no pipeline run),
 * `built` (this request ran the build), `joined` (an identical request's build in flight), or
 * `last-good` (the build failed; this is the client's previous good version, not the predicted one).
 */

export type WorkflowEvent =
  | { type: 'identified'; clientId: string; category: string; matchedBy: string; ms: number }
  | { type: 'predicted'; vectorDigest: Digest; planDigest: Digest; ms: number }
  | { type: 'build'; state: 'prebuilt' | 'queued' | 'started' | 'retrying' | 'joined' | 'failed'; message?: string }
  | { type: 'pipeline'; event: PersonalizeEvent }
  | { type: 'registered'; digest: Digest; version: number; ms: number };

export interface RequestResult {
  clientId: string;
  category: string;
  matchedBy: string;
  vectorDigest: Digest;
  /** What the image holds (the digest of the pipeline's plan); equal plans share one image. */
  planDigest: Digest;
  source: ImageSource;
  /** `registry`: the shared registry's host[:port] clients pull from (the grant opens the repository there too); absent: this server's /v2/. */
  image: { repository: string; reference: string; registry?: string; digest: Digest; version?: number; tags: string[] };
  vmSpec: VmSpec | undefined;
  /** Set when source is `last-good`: why the predicted image could not be built. */
  buildError?: { code: string; message: string };
  grant: { token: string; expires_in: number; issued_at: string; scope: string };
  /**
   * The per-request cloud-init NoCloud seed (`meta-data`, `user-data`): what is this client's and
   * this version's and never in a layer. With in-guest consent it carries the agent's server URL,
   * telemetry-only credential and the image digest its events carry.
   */
  seed: { 'meta-data': string; 'user-data': string };
  /**
   * What the machine's user needs beside the seed: its login name and the generated password of
   * each protected service (Redis, PostgreSQL, MariaDB), for this request's seed only.
   */
  credentials: MachineCredentials;
  /** Whether the image carries the in-guest agent (the client granted in-guest consent). */
  inGuestAgent: boolean;
  timings: { identifyMs: number; predictMs: number; imageMs: number; totalMs: number };
}

export interface RunOptions {
  signal?: AbortSignal;
  onEvent?: (e: WorkflowEvent) => void;
  authorizeClient?: (identity: Identity) => void;
  /** A build ahead (`prepare`, the scheduler), not a client's request: not recorded in the history. */
  proactive?: boolean;
  /** A replay by the proactive scheduler names the identity it recorded (the history keeps no account to identify from again). */
  identity?: Identity;
}

export interface ActiveBuild {
  clientId: string;
  state: 'queued' | 'running';
  since: string;
}

export interface RequestWorkflowDeps {
  identifyConfig: IdentifyConfig;
  predictor: Predictor;
  registry: Registry;
  grants: Grants;
  builder: ImageBuilder;
  /** Base name → the base image (catalog lookup; `findBase(paths.bases, name)` in production). */
  resolveBase: (name: string) => Promise<BaseRef & { name: string }>;
  defaultBase?: string;
  /**
   * A failed build is tried again after `baseDelayMs`, doubling each time, `attempts` in all
   * (default 3 attempts from 2 s). Invalid input (VALIDATION, NOT_FOUND, UNSAFE_PATH) is not retried.
   */
  retry?: { attempts: number; baseDelayMs: number };
  /**
   * The category telemetry recorded for a client (from the store), for a client no rule
   * recognises: a client the store knows is not unknown, so it keeps its own category.
   */
  categoryOf?: (clientId: string) => Promise<string | undefined>;
  /** Where client requests are recorded for the proactive scheduler (none: not recorded). */
  history?: RequestHistory;
  /**
   * The admin policy (`<home>/policy.json`, re-read when it changes): the bases clients may ask
   * for, and what a predicted vector may contain. The safe default when omitted.
   */
  policy?: PolicySource;
  /** Where every answer (and failure after identification) is recorded for the dashboard (none: not recorded). */
  outcomes?: RequestOutcomes;
  now?: () => Date;
  /** Builds running at once across all clients (each holds a qemu/NBD session). */
  maxParallelBuilds?: number;
  /** Whether the client granted in-guest consent (none: never; images then carry no agent). */
  inGuestConsent?: (clientId: string) => Promise<boolean>;
  /** The client's registered login (user and SSH keys) for its seed (none: a machine nobody logs in to). */
  login?: (clientId: string) => Promise<SeedLogin | undefined>;
  /**
   * Where the agent reports to, as the guest reaches the server, and a credential that may only
   * write this client's telemetry (issued per request; it travels only in the seed).
   */
  agent?: { url: string; issueCredential: (clientId: string) => Promise<{ username: string; secret: string }> };
  /**
   * The registry shared with other homes (ExternalRegistry): when the local `latest` does not
   * answer, its `latest` is brought here and tried, so a version another machine built is a
   * prebuilt hit; `address` is where clients pull (`image.registry` in the answer).
   */
  shared?: { address: string; syncLatest(repository: string, signal?: AbortSignal): Promise<unknown> };
}

/** Versions the memo keeps before it starts again (a bound on memory, not an eviction policy). */
const memoLimit = 4096;

/**
 * What one read of a registered version (`repository@digest`) tells: what it was built for (is
 * it a prebuilt hit?) and what its seeds are made of, or why it cannot make one (not a Prescient
 * version). Both come from the same manifest and config, which never change for a digest.
 */
interface VersionFacts {
  image: ImageProvenance;
  seed: VersionProvenance | AppError;
}

/**
 * request → identify → predict → plan → (prebuilt? else build through the layer cache and register)
 * → grant. Builds are single-flight per (client, base, plan digest) and bounded in number; a
 * failed build hands out the client's last good version, marked as such, or the error.
 */
export class RequestWorkflow {
  private readonly flights = new SingleFlight<BuiltImage>();
  private readonly syncs = new SingleFlight<unknown>();
  readonly limiter: BuildLimiter;
  private readonly cancels = new Map<string, Set<AbortController>>();
  /** Registered versions by `repository@digest`, read once: immutable per digest. */
  private readonly versions = new Map<string, VersionFacts>();
  private readonly bases = new Map<string, { base: BaseRef & { name: string }; until: number }>();
  /** Builds of this process queued or running now, by flight key (the dashboard's "builds" column). */
  readonly activeBuilds = new Map<string, ActiveBuild>();
  /** Pipeline runs started by this process (metrics, tests). */
  buildsStarted = 0;
  /** Told each module's outcome and duration of every build (the metrics' histogram). */
  onModuleDone: ((m: { module: string; outcome: string; ms: number }) => void) | undefined;
  /** Answered requests by how the image was obtained, and failed ones (`error`). */
  readonly answered: Record<ImageSource | 'error', number> = { prebuilt: 0, built: 0, joined: 0, 'last-good': 0, error: 0 };

  /** Where requests are recorded (what the proactive scheduler reads). */
  get history(): RequestHistory | undefined {
    return this.deps.history;
  }

  constructor(private readonly deps: RequestWorkflowDeps) {
    this.limiter = new BuildLimiter(deps.maxParallelBuilds ?? 2);
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
      });
      return result;
    } catch (e) {
      this.answered.error++;
      if (seen.identity) {
        const err = toAppError(e);
        await this.recordOutcome({ at: this.nowIso(), clientId: seen.identity.clientId, category: seen.identity.category, source: 'error', proactive: options.proactive === true, error: { code: err.code, message: err.message }, totalMs: performance.now() - t0 });
      }
      throw e;
    }
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
      await this.deps.history?.record({ at: (this.deps.now?.() ?? new Date()).toISOString(), ...identity, ...(request.base ? { base: request.base } : {}), ...(request.account !== undefined ? { account: request.account } : {}) });
    }
    const t1 = performance.now();
    emit({ type: 'identified', ...identity, ms: t1 - t0 });
    // Whatever the predictor proposes (trained models over telemetry, category vectors), the image gets only what the policy allows.
    const predicted = await this.deps.predictor.predict({ clientId: identity.clientId, category: identity.category, ...(options.signal ? { signal: options.signal } : {}) });
    const vector = confineVector(predicted, policy).vector;
    const vectorDigest = sha256Digest(canonicalJson(vector));
    const base = await this.base(baseName);
    // Consent is read at every request: a grant or a withdrawal changes the plan (the agent's layer).
    const inGuestAgent = this.deps.agent !== undefined && ((await this.deps.inGuestConsent?.(identity.clientId)) ?? false);
    // Planning is pure and cheap (dataset digests are memoised by file identity), so it runs every time.
    const planDigest = await this.deps.builder.planDigest({ base, vector, policy, inGuestAgent, ...(options.signal ? { signal: options.signal } : {}) });
    const t2 = performance.now();
    emit({ type: 'predicted', vectorDigest, planDigest, ms: t2 - t1 });

    const repository = clientRepository(identity.clientId);
    let source: ImageSource;
    let image: { digest: Digest; version?: number; tags: string[] };
    let vmSpec: VmSpec | undefined;
    let buildError: RequestResult['buildError'];
    const answers = (p: LatestImage | undefined): boolean => !!p && p.planDigest === planDigest && p.baseKey === base.key;
    let prebuilt = await this.latest(repository);
    if (!answers(prebuilt) && this.deps.shared) {
      await this.deps.shared.syncLatest(repository, options.signal);
      prebuilt = await this.latest(repository);
    }
    if (prebuilt && answers(prebuilt)) {
      source = 'prebuilt';
      image = prebuilt;
      vmSpec = prebuilt.vmSpec;
      emit({ type: 'build', state: 'prebuilt' });
    } else {
      try {
        const key = `${identity.clientId}\n${base.key}\n${planDigest}`;
        const flight = await this.flights.run(key, async () => {
          emit({ type: 'build', state: 'queued' });
          this.activeBuilds.set(key, { clientId: identity.clientId, state: 'queued', since: this.nowIso() });
          const controller = new AbortController();
          const mine = this.cancels.get(identity.clientId) ?? new Set<AbortController>();
          mine.add(controller);
          this.cancels.set(identity.clientId, mine);
          try {
            return await this.limiter.run(async () => {
              controller.signal.throwIfAborted();
              emit({ type: 'build', state: 'started' });
              this.activeBuilds.set(key, { clientId: identity.clientId, state: 'running', since: this.nowIso() });
              this.buildsStarted++;
              const b0 = performance.now();
              const built = await this.withRetries(() =>
                this.deps.builder.build({
                  repository,
                  base,
                  vector,
                  vectorDigest,
                  planDigest,
                  policy,
                  inGuestAgent,
                  // Not a request's signal: a build is shared, and one caller hanging up must not cancel it for the others; `cancel` does.
                  signal: controller.signal,
                  onEvent: (event) => {
                    if (event.type === 'module-done') this.onModuleDone?.({ module: event.module, outcome: event.outcome, ms: event.ms });
                    emit({ type: 'pipeline', event });
                  },
                }),
                (attempt, error, delayMs) => emit({ type: 'build', state: 'retrying', message: `attempt ${attempt} failed (${error.message}); retrying in ${delayMs} ms` }),
                controller.signal,
              );
              emit({ type: 'registered', digest: built.digest, version: built.version, ms: performance.now() - b0 });
              return built;
            });
          } catch (e) {
            throw controller.signal.aborted ? new AbortedError(`build of ${repository}`) : e;
          } finally {
            this.activeBuilds.delete(key);
            mine.delete(controller);
            if (mine.size === 0) this.cancels.delete(identity.clientId);
          }
        });
        if (flight.shared) emit({ type: 'build', state: 'joined' });
        source = flight.shared ? 'joined' : 'built';
        image = flight.value;
        vmSpec = flight.value.spec;
      } catch (e) {
        const err = toAppError(e);
        emit({ type: 'build', state: 'failed', message: err.message });
        // The build may have failed after another one registered: re-read, and never hand out a half-made image.
        const lastGood = await this.latest(repository);
        if (!lastGood) throw err;
        source = 'last-good';
        image = lastGood;
        vmSpec = lastGood.vmSpec;
        buildError = { code: err.code, message: err.message };
      }
    }
    const t3 = performance.now();
    const grant = this.deps.grants.grantFor(identity.clientId);
    // The version actually handed out (a last-good one may predate the consent, and carry no agent).
    const agentInImage = inGuestAgent && source !== 'last-good';
    const files: SeedFile[] = [];
    if (agentInImage && this.deps.agent) {
      const c = await this.deps.agent.issueCredential(identity.clientId);
      files.push(agentSeedFile({ url: this.deps.agent.url, clientId: identity.clientId, image: image.digest, credential: `${c.username}:${c.secret}` }));
    }
    // The machine's own: the client's registered login and fresh passwords for the protected
    // services this version enables (from its provenance), beside the agent's file.
    const login = await this.deps.login?.(identity.clientId);
    const seedOf = async () => seedOfVersion(await this.seedProvenance(`${repository}@${image.digest}`), { ...(login ? { login } : {}), extraFiles: files });
    const machine = await seedOf().catch(async (e: unknown) => {
      // Built by a worker on another machine: the version is in the shared registry only; its
      // provenance (what the seed's passwords are made for) is brought here first.
      if (toAppError(e).code !== 'NOT_FOUND' || !this.deps.shared) throw e;
      // Requests of one client arrive together: one pull of its latest, joined by the others.
      const shared = this.deps.shared;
      await this.syncs.run(repository, () => shared.syncLatest(repository));
      return seedOf();
    });
    const instanceId = `${identity.clientId}-${image.digest.slice('sha256:'.length, 'sha256:'.length + 16)}`;
    const hostname = identity.clientId.replace(/[._]/g, '-').slice(0, 63).replace(/-+$/, '');
    const seed = seedFiles({ ...machine.seed, instanceId, hostname });
    const credentials: MachineCredentials = { ...machine.credentials, instanceId, hostname };
    return {
      clientId: identity.clientId,
      category: identity.category,
      matchedBy: identity.matchedBy,
      vectorDigest,
      planDigest,
      source,
      image: { repository, reference: `${repository}@${image.digest}`, ...(this.deps.shared ? { registry: this.deps.shared.address } : {}), digest: image.digest, ...(image.version !== undefined ? { version: image.version } : {}), tags: image.tags },
      vmSpec,
      ...(buildError ? { buildError } : {}),
      grant: { token: grant.token, expires_in: grant.expires_in, issued_at: grant.issued_at, scope: `repository:${repository}:pull` },
      seed,
      credentials,
      inGuestAgent: agentInImage,
      timings: { identifyMs: t1 - t0, predictMs: t2 - t1, imageMs: t3 - t2, totalMs: performance.now() - t0 },
    };
  }

  /** Cancel a client's builds in flight or queued; their requests get the last good version or ABORTED. */
  cancel(clientId: string): number {
    const mine = [...(this.cancels.get(clientId) ?? [])];
    for (const c of mine) c.abort();
    return mine.length;
  }

  private async withRetries<T>(work: () => Promise<T>, onRetry: (attempt: number, error: AppError, delayMs: number) => void, signal: AbortSignal): Promise<T> {
    const { attempts, baseDelayMs } = this.deps.retry ?? { attempts: 3, baseDelayMs: 2000 };
    for (let attempt = 1; ; attempt++) {
      try {
        return await work();
      } catch (e) {
        const err = toAppError(e);
        if (signal.aborted || attempt >= attempts || ['VALIDATION', 'NOT_FOUND', 'UNSAFE_PATH', 'ABORTED'].includes(err.code)) throw err;
        const delayMs = baseDelayMs * 2 ** (attempt - 1);
        onRetry(attempt, err, delayMs);
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
    }
  }

  private latest(repository: string): Promise<LatestImage | undefined> {
    return latestImage(this.deps.registry, repository, async (reference) => (await this.version(reference)).image);
  }

  /** A version's plan, base facts and subject (what a seed is made of). */
  private async seedProvenance(reference: string): Promise<VersionProvenance> {
    const { seed } = await this.version(reference);
    if (seed instanceof Error) throw seed;
    return seed;
  }

  /**
   * A version read from the registry once per `repository@digest`: its config (with ~200 base
   * packages) was the largest read of a prebuilt hit, and the check for a hit and the seed read
   * the same version (after a build, the next request's check finds what the seed read). A read
   * that fails (a version only in the shared registry yet) is not kept.
   */
  private async version(reference: string): Promise<VersionFacts> {
    const known = this.versions.get(reference);
    if (known) return known;
    const shown = await this.deps.registry.show(reference);
    let seed: VersionFacts['seed'];
    try {
      seed = versionProvenance(shown, reference);
    } catch (e) {
      seed = toAppError(e);
    }
    const facts = { image: imageProvenance(shown), seed };
    if (this.versions.size >= memoLimit) this.versions.clear();
    this.versions.set(reference, facts);
    return facts;
  }

  /** Base lookups read the catalog folder; a few seconds of staleness is fine for a name → base mapping. */
  private async base(name: string): Promise<BaseRef & { name: string }> {
    const cached = this.bases.get(name);
    if (cached && cached.until > Date.now()) return cached.base;
    const base = await this.deps.resolveBase(name);
    this.bases.set(name, { base, until: Date.now() + 10_000 });
    return base;
  }
}
