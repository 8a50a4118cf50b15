import { join } from 'node:path';
import type { Paths } from '../core/config.js';
import type { Grants } from '../grants/grants.js';
import { categorySchema } from '../contracts/category.js';
import { sshKeyStoreAt } from '../login/ssh-key-store.js';
import { loadIdentifyConfig } from '../identify/rules.js';
import { assemblePipeline } from '../pipeline/plan.js';
import { policyFile, policySource } from '../policy/policy.js';
import type { ExternalRegistry } from '../registry/external-registry.js';
import type { Registry } from '../registry/registry.js';
import { CategoryVectorPredictor } from './category-predictor.js';
import { PipelineImageBuilder } from './image-builder.js';
import { RequestHistory } from './request-history.js';
import { RequestOutcomes } from './request-outcomes.js';
import { RequestWorkflow } from './request-workflow.js';
import type { RequestWorkflowDeps } from './request-workflow-deps.js';
import { sharedBaseResolver } from './shared-base.js';
import { trainedPredictor } from './trained-predictor.js';
import { createPredictor } from '../predict/predict-vector.js';
import { storeHistory } from '../predict/store-history.js';
import type { Ingestion } from '../telemetry/open-ingestion.js';
import type { BuildQueue } from '../queue/build-queue.js';
import { QueuedImageBuilder } from '../queue/queued-image-builder.js';

/** Where the workflow's configuration lives under PRESCIENT_HOME (both optional). */
export function workflowConfigFiles(paths: Paths): { identify: string; categoryVectors: string; history: string; outcomes: string } {
  return {
    identify: join(paths.home, 'identify.json'),
    categoryVectors: join(paths.home, 'category-vectors.json'),
    history: join(paths.home, 'request-history.jsonl'),
    outcomes: join(paths.home, 'request-outcomes.jsonl'),
  };
}

/**
 * The production workflow: identification rules from `<home>/identify.json`; prediction by the
 * trained models over the telemetry store, falling back to the per-category vectors of
 * `<home>/category-vectors.json` for what was never trained; the real pipeline; and the admin
 * policy of `<home>/policy.json` over all of it (bases, datasets, packages, ports, destinations).
 */
export async function openRequestWorkflow(options: {
  paths: Paths;
  registry: Registry;
  grants: Grants;
  /** The telemetry store and its anonymiser (the Prescient's `ingestion()`): what the models predict from. */
  telemetry: Pick<Ingestion, 'store' | 'anonymiser'>;
  maxParallelBuilds?: number;
  /** The registry shared with other homes (registry kind `oci`): builds fetch layers from it and push to it. */
  external?: ExternalRegistry;
  /** The in-guest agent's server URL and credential issuer; without it no image carries the agent. */
  agent?: RequestWorkflowDeps['agent'];
  /**
   * The build queue (PostgreSQL) shared with `prescient worker`s: builds go there instead of running
   * here, and its retries replace the in-process ones. None: every build runs in this process.
   */
  queue?: BuildQueue;
}): Promise<RequestWorkflow> {
  const files = workflowConfigFiles(options.paths);
  const { store, anonymiser } = options.telemetry;
  const policy = policySource(policyFile(options.paths));
  const predictor = trainedPredictor({
    models: createPredictor({ history: storeHistory(store), modelsDir: options.paths.models, policy }),
    modelsDir: options.paths.models,
    store,
    pseudonym: (clientId) => anonymiser.pseudonym('client', clientId),
    fallback: await CategoryVectorPredictor.load(files.categoryVectors),
  });
  const pipelineBuilder = new PipelineImageBuilder({ paths: options.paths, registry: options.registry, pipeline: assemblePipeline(), ...(options.external ? { external: options.external } : {}) });
  return new RequestWorkflow({
    identifyConfig: await loadIdentifyConfig(files.identify),
    categoryOf: async (clientId) => {
      const subject = anonymiser.pseudonym('client', clientId);
      const found = await store.subject(subject);
      const category = found?.kind === 'client' ? found.category : undefined;
      // Telemetry categories are free text; only one that is a valid category name is taken.
      return categorySchema.safeParse(category).success ? (category as string) : undefined;
    },
    predictor,
    registry: options.registry,
    history: new RequestHistory(files.history, { pseudonym: (account) => anonymiser.pseudonym('user', account) }),
    policy,
    outcomes: new RequestOutcomes(files.outcomes),
    grants: options.grants,
    builder: options.queue ? new QueuedImageBuilder({ queue: options.queue, planner: pipelineBuilder }) : pipelineBuilder,
    resolveBase: sharedBaseResolver({ basesDir: options.paths.bases, ...(options.external ? { external: options.external } : {}) }),
    // With a queue, the limit is of builds waited for (the workers bound the builds running), and the queue retries.
    ...(options.queue ? { maxParallelBuilds: options.maxParallelBuilds ?? 256, retry: { attempts: 1, baseDelayMs: 0 } } : options.maxParallelBuilds ? { maxParallelBuilds: options.maxParallelBuilds } : {}),
    inGuestConsent: (clientId) => store.hasConsent(anonymiser.pseudonymsUnderAllKeys('client', clientId)),
    ...(options.agent ? { agent: options.agent } : {}),
    ...(options.external ? { shared: options.external } : {}),
    login: (clientId) => sshKeyStoreAt(options.paths.home).login(clientId),
  });
}
