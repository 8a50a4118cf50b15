import type { UsageVector } from '../contracts/usage-vector.js';
import type { ImageFacts } from '../image/facts.js';
import type { PersonalizeReport } from './personalize.js';
import type { PipelinePlan } from './plan.js';

/**
 * The registry config of a version the pipeline made: its provenance (vector, plan, VM spec,
 * base facts, model, module timings; see registry/version-diff.ts). Clients pull it with the
 * image, so it names no host file: the base's facts go without the base's path and backing
 * chain, and the plan names datasets by their catalogue names (pipeline/change.ts).
 */
export function versionConfig(input: { vector: UsageVector; plan: PipelinePlan; facts: ImageFacts; report: Pick<PersonalizeReport, 'spec' | 'modules' | 'verification'> }): Record<string, unknown> {
  const { image: _path, backingChain: _chain, ...baseFacts } = input.facts;
  return {
    usageVector: input.vector,
    plan: input.plan,
    vmSpec: input.report.spec,
    baseFacts,
    model: input.vector.model,
    timings: input.report.modules.map((m) => ({ module: m.id, outcome: m.outcome, ms: m.ms })),
    ...(input.report.verification ? { verification: input.report.verification } : {}),
  };
}
