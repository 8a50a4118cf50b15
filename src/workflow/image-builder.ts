import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Paths } from '../core/config.js';
import { withFileLock } from '../core/file-lock.js';
import type { Digest } from '../core/digest.js';
import { canonicalJson } from '../core/canonical-json.js';
import { sha256Digest } from '../core/digest.js';
import { personalize, planPersonalization, type BaseRef, type PersonalizeEvent } from '../pipeline/personalize.js';
import type { AssembledModule, PipelinePlan } from '../pipeline/plan.js';
import { versionConfig } from '../pipeline/version-config.js';
import type { VmSpec } from '../pipeline/vm-spec.js';
import type { Policy } from '../policy/policy.js';
import { annotations } from '../contracts/annotations.js';
import type { ExternalRegistry } from '../registry/external-registry.js';
import type { Registry } from '../registry/registry.js';
import { LayerCache } from '../pipeline/layer-cache.js';
import { versionOfTag, versionTag } from '../registry/reference.js';
import { imageProvenance, latestImage } from './latest-image.js';
import type { UsageVector } from '../contracts/usage-vector.js';

export interface BuildInput {
  repository: string;
  base: BaseRef & { name: string };
  vector: UsageVector;
  vectorDigest: Digest;
  planDigest: Digest;
  /** The admin policy the vector is checked against (datasets come only from its catalogue). */
  policy?: Policy;
  /** Carry the in-guest agent (the client granted in-guest consent); the pipeline's own option otherwise. */
  inGuestAgent?: boolean;
  signal?: AbortSignal;
  onEvent?: (e: PersonalizeEvent) => void;
}

export interface BuiltImage {
  digest: Digest;
  version: number;
  tags: string[];
  spec: VmSpec;
}

/** Build and register one image. The real one runs the pipeline; tests may count or fail builds around it. */
export interface ImageBuilder {
  /** The digest of what `build` would make of this vector (pure planning: no image is opened). */
  planDigest(input: Pick<BuildInput, 'base' | 'vector' | 'policy' | 'inGuestAgent' | 'signal'>): Promise<Digest>;
  build(input: BuildInput): Promise<BuiltImage>;
}

/**
 * personalize() through the layer cache into a scratch folder, then register the layer chain as
 * the repository's new `latest`, with the plan digest annotated so a later request whose vector
 * plans the same is answered from it without running the pipeline.
 */
export class PipelineImageBuilder implements ImageBuilder {
  /**
   * `external`: the registry shared with other homes (registry kind `oci`). Its `latest` is
   * brought in before deciding whether to build, layers it has are fetched instead of built, and
   * what is built and registered here is pushed there.
   */
  constructor(private readonly deps: { paths: Paths; registry: Registry; pipeline: readonly AssembledModule[]; external?: ExternalRegistry }) {}

  async planDigest(input: Pick<BuildInput, 'base' | 'vector' | 'policy' | 'inGuestAgent' | 'signal'>): Promise<Digest> {
    const plan = await planPersonalization({
      base: input.base,
      vector: input.vector,
      pipeline: this.pipelineFor(input.inGuestAgent),
      ...(input.policy ? { policy: input.policy } : {}),
      ...(input.signal ? { signal: input.signal } : {}),
    });
    return sha256Digest(canonicalJson(plan));
  }

  /** Consent is per client, the pipeline per server: the agent module's option is set per build. */
  private pipelineFor(inGuestAgent: boolean | undefined): readonly AssembledModule[] {
    if (inGuestAgent === undefined) return this.deps.pipeline;
    return this.deps.pipeline.map((m) => (m.module.id === 'agent' ? { module: m.module, options: { ...(m.options as object), enabled: inGuestAgent } } : m));
  }

  /**
   * Single-flight across processes too (`serve`, `prepare`, a second server on the same home):
   * one build per (repository, plan) at a time, and whoever waited finds the image registered.
   */
  async build(input: BuildInput): Promise<BuiltImage> {
    const locks = join(this.deps.paths.runtime, 'builds');
    await mkdir(locks, { recursive: true });
    const lock = join(locks, `${sha256Digest(`${input.repository}\n${input.base.key}\n${input.planDigest}`).slice('sha256:'.length, 'sha256:'.length + 32)}.lock`);
    return withFileLock(lock, async () => {
      const external = this.deps.external;
      const shared = await external?.syncLatest(input.repository, input.signal);
      const hit = await this.registered(input);
      // registered here while the shared registry has none: an earlier push failed after the registration
      if (hit && external && shared === undefined) return this.pushed(input, hit);
      if (hit && external) return this.asThere(input, hit);
      return hit ?? this.buildNow(input);
    }, { ...(input.signal ? { signal: input.signal } : {}), timeoutMs: 3 * 3600_000 });
  }

  /** The repository's `latest` if it already is this plan on this base. */
  private async registered(input: BuildInput): Promise<BuiltImage | undefined> {
    const latest = await latestImage(this.deps.registry, input.repository);
    if (!latest || latest.planDigest !== input.planDigest || latest.baseKey !== input.base.key || latest.version === undefined || !latest.vmSpec) return undefined;
    return { digest: latest.digest, version: latest.version, tags: latest.tags, spec: latest.vmSpec };
  }

  /**
   * Push `image` to the shared registry and answer with what it holds there: the version another
   * home pushed first for the same plan (adopted, now `latest` here too), or ours under the
   * number it got there — the client pulls it from there, so that is the version it is told.
   */
  private async pushed(input: BuildInput, image: BuiltImage): Promise<BuiltImage> {
    const external = this.deps.external!;
    const there = await external.pushVersion({ repository: input.repository, digest: image.digest, version: image.version, tags: ['latest'], ...(input.signal ? { signal: input.signal } : {}) });
    if (!there.adopted && there.version === image.version) return image;
    const tags = [versionTag(there.version), 'latest'];
    if (!there.adopted) return { ...image, version: there.version, tags };
    const spec = imageProvenance(await this.deps.registry.show(`${input.repository}@${there.digest}`)).vmSpec ?? image.spec;
    return { digest: there.digest, version: there.version, tags, spec };
  }

  /**
   * A hit that is a version there, told by its number there: numbers here can differ (a version
   * adopted from another home, or ours pushed under the next free number, came after ours here).
   */
  private async asThere(input: BuildInput, hit: BuiltImage): Promise<BuiltImage> {
    const v = await this.deps.external!.versionOf(input.repository, hit.digest, hit.version, input.signal);
    if (v === undefined || v === hit.version) return hit;
    return { ...hit, version: v, tags: hit.tags.map((t) => (versionOfTag(t) === undefined ? t : versionTag(v))) };
  }

  private async buildNow(input: BuildInput): Promise<BuiltImage> {
    const { paths, registry } = this.deps;
    const outDir = await mkdtemp(join(paths.runtime, 'request-'));
    try {
      const report = await personalize({
        base: input.base,
        vector: input.vector,
        pipeline: this.pipelineFor(input.inGuestAgent),
        outDir,
        layersDir: paths.layers,
        runtimeDir: paths.runtime,
        ...(this.deps.external ? { remoteLayers: this.deps.external } : {}),
        packageCacheDir: paths.packageCache,
        ...(input.policy ? { policy: input.policy } : {}),
        ...(input.signal ? { signal: input.signal } : {}),
        ...(input.onEvent ? { onEvent: input.onEvent } : {}),
      });
      const plan = JSON.parse(await readFile(report.outputs.plan, 'utf8')) as PipelinePlan;
      const registered = await registry.register({
        repository: input.repository,
        layers: report.layers.map((path) => ({ path })),
        config: versionConfig({ vector: input.vector, plan, facts: input.base.facts, report }),
        annotations: { [annotations.vectorDigest]: input.vectorDigest, [annotations.planDigest]: input.planDigest, [annotations.baseKey]: input.base.key, [annotations.baseName]: input.base.name },
        tags: ['latest'],
        ...(input.signal ? { signal: input.signal } : {}),
      });
      const external = this.deps.external;
      if (external) {
        // base and layers first: a worker that starts the next build finds them even if the version push fails
        await external.publishBase(input.base, input.signal);
        const keys = report.modules.flatMap((m) => (m.key ? [m.key] : []));
        await external.publishLayers({ keys, cache: new LayerCache(paths.layers), ...(input.signal ? { signal: input.signal } : {}) });
        return await this.pushed(input, { digest: registered.digest, version: registered.version, tags: registered.tags, spec: report.spec });
      }
      return { digest: registered.digest, version: registered.version, tags: registered.tags, spec: report.spec };
    } finally {
      await rm(outDir, { recursive: true, force: true });
    }
  }
}
