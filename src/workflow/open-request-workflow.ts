import { join } from 'node:path';
import type { Paths } from '../core/config.js';
import type { Grants } from '../grants/grants.js';
import { loadIdentifyConfig } from '../identify/rules.js';
import { findBase } from '../image/bases/catalog.js';
import { assemblePipeline } from '../pipeline/plan.js';
import type { Registry } from '../registry/registry.js';
import { CategoryVectorPredictor } from './category-predictor.js';
import { PipelineImageBuilder } from './image-builder.js';
import type { Predictor } from './predictor.js';
import { RequestHistory } from './request-history.js';
import { RequestWorkflow } from './request-workflow.js';

/** Where the workflow's configuration lives under PRESCIENT_HOME (both optional). */
export function workflowConfigFiles(paths: Paths): { identify: string; categoryVectors: string; history: string } {
  return { identify: join(paths.home, 'identify.json'), categoryVectors: join(paths.home, 'category-vectors.json'), history: join(paths.home, 'request-history.jsonl') };
}

/**
 * The production workflow: identification rules from `<home>/identify.json`, the predictor given
 * (default: per-category vectors from `<home>/category-vectors.json`), the real pipeline.
 */
export async function openRequestWorkflow(options: { paths: Paths; registry: Registry; grants: Grants; predictor?: Predictor; maxParallelBuilds?: number }): Promise<RequestWorkflow> {
  const files = workflowConfigFiles(options.paths);
  return new RequestWorkflow({
    identifyConfig: await loadIdentifyConfig(files.identify),
    predictor: options.predictor ?? (await CategoryVectorPredictor.load(files.categoryVectors)),
    registry: options.registry,
    history: new RequestHistory(files.history),
    grants: options.grants,
    builder: new PipelineImageBuilder({ paths: options.paths, registry: options.registry, pipeline: assemblePipeline() }),
    resolveBase: (name) => findBase(options.paths.bases, name),
    ...(options.maxParallelBuilds ? { maxParallelBuilds: options.maxParallelBuilds } : {}),
  });
}
