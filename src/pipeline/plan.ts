import { ConflictError, ValidationError } from '../core/errors.js';
import type { ImageFacts } from '../image/facts.js';
import { defaultPolicy, type Policy } from '../policy/policy.js';
import { checkVectorPolicy } from '../policy/vector-policy.js';
import { firstIssueError } from '../core/field-issues.js';
import type { UsageVector } from '../contracts/usage-vector.js';
import { changeSchema, type Change } from './change.js';
import type { PipelineModule } from './define-module.js';
import { builtinModules } from './modules/index.js';
import type { ResolvedSources } from './sources.js';
import { initialVmSpec, withFields, type VmSpec } from './vm-spec.js';

export interface AssembledModule {
  module: PipelineModule<unknown>;
  options: unknown;
}

/**
 * Checks the pipeline when it is put together, before any image is touched: module ids are
 * unique, options name known modules and pass each module's schema, `only` names known ids.
 */
export function assemblePipeline(config: { modules?: readonly PipelineModule<any>[]; only?: readonly string[]; options?: Record<string, unknown> } = {}): AssembledModule[] {
  const modules = config.modules ?? builtinModules;
  const ids = new Set<string>();
  for (const m of modules) {
    if (ids.has(m.id)) throw new ConflictError(`two pipeline modules have the id ${JSON.stringify(m.id)}`);
    ids.add(m.id);
  }
  for (const key of Object.keys(config.options ?? {})) if (!ids.has(key)) throw new ValidationError(`options.${key}`, `no module with this id (modules: ${[...ids].join(', ')})`);
  for (const id of config.only ?? []) if (!ids.has(id)) throw new ValidationError('modules', `unknown module ${JSON.stringify(id)} (modules: ${[...ids].join(', ')})`);
  return modules
    .filter((m) => !config.only || config.only.includes(m.id))
    .map((module) => {
      const parsed = module.optionsSchema.safeParse(config.options?.[module.id]);
      if (!parsed.success) throw firstIssueError(parsed.error, { root: `options.${module.id}` });
      return { module, options: parsed.data };
    });
}

export interface ModulePlan {
  id: string;
  version: number;
  options: unknown;
  changes: Change[];
  notes: string[];
}

export interface PipelinePlan {
  modules: ModulePlan[];
  spec: VmSpec;
}

/**
 * Plans every module in order. Each sees the facts and VM spec as the modules before it leave
 * them. Pure: no image is opened, so this is what --plan prints and what cache keys hash.
 * A vector naming anything outside the admin policy (the safe default when none is given) is
 * refused first, naming the field.
 */
export function planPipeline(input: { pipeline: readonly AssembledModule[]; vector: UsageVector; facts: ImageFacts; sources: ResolvedSources; policy?: Policy }): PipelinePlan {
  checkVectorPolicy(input.vector, input.policy ?? defaultPolicy());
  let facts = input.facts;
  let spec = initialVmSpec(facts);
  const requiredPackages = [...new Set(input.pipeline.flatMap(({ module, options }) => module.packages?.({ vector: input.vector, facts: input.facts, options }) ?? []))].sort();
  const modules: ModulePlan[] = [];
  for (const { module, options } of input.pipeline) {
    const result = module.plan({ vector: input.vector, facts, spec, options, sources: input.sources, requiredPackages });
    const changes = result.changes.map((c, i) => {
      const parsed = changeSchema.safeParse(c);
      if (!parsed.success) throw firstIssueError(parsed.error, { root: `${module.id}.changes[${i}]` });
      return parsed.data;
    });
    for (const c of changes) {
      if (c.kind === 'set-vm-spec') spec = withFields(spec, c.fields);
      if (c.kind === 'install-packages') {
        const known = new Set(facts.packages.map((p) => p.name));
        facts = { ...facts, packages: [...facts.packages, ...c.packages.filter((p) => !known.has(p)).map((name) => ({ name, version: '(planned)', architecture: facts.architecture }))] };
      }
      if (c.kind === 'enable-service' && !facts.services.includes(c.unit)) facts = { ...facts, services: [...facts.services, c.unit].sort() };
      if (c.kind === 'disable-service') facts = { ...facts, services: facts.services.filter((u) => u !== c.unit) };
      if (c.kind === 'resize-disk') facts = { ...facts, virtualSizeBytes: Math.max(facts.virtualSizeBytes, c.sizeGiB * 1024 ** 3) };
    }
    modules.push({ id: module.id, version: module.version, options, changes, notes: result.notes ?? [] });
  }
  return { modules, spec };
}
