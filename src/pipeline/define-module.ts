import type { z } from 'zod';
import { ValidationError } from '../core/errors.js';
import type { ImageFacts } from '../image/facts.js';
import type { UsageVector } from '../contracts/usage-vector.js';
import type { Change } from './change.js';
import type { ResolvedSources } from './sources.js';
import type { VmSpec } from './vm-spec.js';

/**
 * What `plan` receives, as one argument object. `facts` and `spec` are the base image's facts
 * and the VM spec as the modules before this one will have left them (packages they install
 * count as installed), so a module never plans what an earlier one already does.
 */
export interface PlanInput<Options> {
  vector: UsageVector;
  facts: ImageFacts;
  spec: VmSpec;
  options: Options;
  sources: ResolvedSources;
  /**
   * Packages the pipeline's modules declare with their `packages` hook, so the packages layer
   * (software) installs them all with one apt run, below every configuration layer.
   */
  requiredPackages: readonly string[];
}

export interface PlanResult {
  changes: Change[];
  /** Why the module did (or did not do) something, for the report. */
  notes?: string[];
}

export interface PipelineModule<Options = unknown> {
  id: string;
  version: number;
  description: string;
  optionsSchema: z.ZodType<Options>;
  /** Pure: reads only its input, never touches an image or the network. */
  plan(input: PlanInput<Options>): PlanResult;
  /**
   * The packages this module's configuration needs (nginx for its nginx.conf…). They go into
   * the packages layer at the bottom, so a change of configuration never reinstalls them.
   */
  packages?(input: Pick<PlanInput<Options>, 'vector' | 'facts' | 'options'>): string[];
}

export const moduleIdPattern = /^[a-z][a-z0-9-]{1,31}$/;

/** Checks the definition when it is made, not on first use. */
export function defineModule<Options>(def: PipelineModule<Options>): PipelineModule<Options> {
  if (!moduleIdPattern.test(def.id)) throw new ValidationError('module.id', `${JSON.stringify(def.id)} must match ${moduleIdPattern}`);
  if (!Number.isInteger(def.version) || def.version < 1) throw new ValidationError(`${def.id}.version`, 'must be a positive integer');
  return Object.freeze(def);
}
