import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Paths } from '../core/config.js';
import type { Digest } from '../core/digest.js';
import { personalize, type BaseRef, type PersonalizeEvent } from '../pipeline/personalize.js';
import type { AssembledModule } from '../pipeline/plan.js';
import type { VmSpec } from '../pipeline/vm-spec.js';
import type { Registry } from '../registry/registry.js';
import type { UsageVector } from '../usage-vector/schema.js';

/** The manifest annotation that says which vector (canonical JSON digest) an image was built for. */
export const vectorDigestAnnotation = 'io.prescient.vector-digest';
/** …and on which base (its recipe key), so a rebuilt base is never answered with an image of the old one. */
export const baseKeyAnnotation = 'io.prescient.base-key';

export interface BuildInput {
  repository: string;
  base: BaseRef & { name: string };
  vector: UsageVector;
  vectorDigest: Digest;
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
  build(input: BuildInput): Promise<BuiltImage>;
}

/**
 * personalize() through the layer cache into a scratch folder, then register the layer chain as
 * the repository's new `latest`, with the vector digest annotated so a later identical request
 * is answered from it without running the pipeline.
 */
export class PipelineImageBuilder implements ImageBuilder {
  constructor(private readonly deps: { paths: Paths; registry: Registry; pipeline: readonly AssembledModule[] }) {}

  async build(input: BuildInput): Promise<BuiltImage> {
    const { paths, registry } = this.deps;
    await mkdir(paths.runtime, { recursive: true });
    const outDir = await mkdtemp(join(paths.runtime, 'request-'));
    try {
      const report = await personalize({
        base: input.base,
        vector: input.vector,
        pipeline: this.deps.pipeline,
        outDir,
        layersDir: paths.layers,
        runtimeDir: paths.runtime,
        packageCacheDir: paths.packageCache,
        ...(input.signal ? { signal: input.signal } : {}),
        ...(input.onEvent ? { onEvent: input.onEvent } : {}),
      });
      const plan: unknown = JSON.parse(await readFile(report.outputs.plan, 'utf8'));
      const registered = await registry.register({
        repository: input.repository,
        layers: report.layers.map((path) => ({ path })),
        config: { usageVector: input.vector, plan, vmSpec: report.spec, baseFacts: input.base.facts, model: input.vector.model, timings: report.modules.map((m) => ({ module: m.id, outcome: m.outcome, ms: m.ms })) },
        annotations: { [vectorDigestAnnotation]: input.vectorDigest, [baseKeyAnnotation]: input.base.key, 'io.prescient.base': input.base.name },
        tags: ['latest'],
        ...(input.signal ? { signal: input.signal } : {}),
      });
      return { digest: registered.digest, version: registered.version, tags: registered.tags, spec: report.spec };
    } finally {
      await rm(outDir, { recursive: true, force: true });
    }
  }
}
