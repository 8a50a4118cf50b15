import type { ImageFacts } from '../../../image/facts.js';
import type { UsageVectorService } from '../../../usage-vector/schema.js';
import type { Change } from '../../change.js';
import type { VmSpec } from '../../vm-spec.js';

/**
 * How one kind of service is prepared: which package brings it, which unit runs it, and the
 * configuration that fits the predicted load and the allocated machine.
 */
export interface ServiceTuner {
  /** Names a vector may use for this service. */
  names: readonly string[];
  package(facts: ImageFacts): string;
  unit: string;
  /** Whether it competes for memory (databases, caches), so memory is shared among those. */
  memoryHungry: boolean;
  tune(input: { service: UsageVectorService; spec: VmSpec; facts: ImageFacts; memoryShareMiB: number }): Change[];
}

export function mib(n: number): string {
  return `${Math.max(1, Math.floor(n))}MB`;
}

export function header(what: string, service: UsageVectorService, spec: VmSpec): string {
  const load = Object.entries(service.expectedLoad)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  return `# Written by Prescient (services module): ${what} tuned for ${load || 'unknown load'}, concurrency ${service.concurrency},\n# on ${spec.vcpus} vCPUs and ${spec.memoryMiB} MiB. Regenerated on every build; change the vector or the module options instead.\n`;
}
