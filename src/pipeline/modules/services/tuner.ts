import type { ImageFacts } from '../../../image/facts.js';
import type { ServiceSpec } from '../../../predict/service-catalog.js';
import type { UsageVectorService } from '../../../contracts/usage-vector.js';
import type { Change } from '../../change.js';
import type { SeedFile } from '../../spec/cloud-init.js';
import type { VmSpec } from '../../vm-spec.js';

/**
 * How one kind of service is prepared: which package brings it, which unit runs it, the ports
 * it answers on, and the configuration that fits the predicted load and the allocated machine.
 */
export interface ServiceTuner {
  /**
   * Its entry in the service catalogue (`catalogued(...)`), which owns the names a vector may
   * give it: a vector's service finds its tuner through `serviceNamed`, as the policy does.
   */
  service: ServiceSpec;
  /** How the machine's credentials and the plan's notes name it. */
  name: string;
  package(facts: ImageFacts): string;
  unit: string;
  /** The unix user the service runs as: its configuration must be readable by it. */
  user: string;
  /** TCP ports it answers on once prepared. */
  ports: readonly number[];
  /** Whether it competes for memory (databases, caches), so memory is shared among those. */
  memoryHungry: boolean;
  /**
   * What does not depend on the machine's size (the services layer): where it listens —
   * `exposed`: its ports are opened inbound, so on every interface; otherwise on loopback only —
   * and how it is protected. Nothing secret goes in these Changes: they land in a shared layer.
   */
  configure?(input: { service: UsageVectorService; facts: ImageFacts; exposed: boolean }): Change[];
  /** The tuning for the allocated vCPUs and memory (the sizing layer, at the top). */
  tune(input: { service: UsageVectorService; spec: VmSpec; facts: ImageFacts; memoryShareMiB: number; exposed: boolean }): Change[];
  /**
   * The service's own configuration check, run in the guest (as the service's user where it
   * runs as one) after the last layer that writes its configuration: a broken config fails the
   * build instead of the boot.
   */
  check(facts: ImageFacts): Change;
  /**
   * The per-machine secret (a generated password) this service is protected with, as files
   * the cloud-init seed writes at first boot, before the service starts.
   */
  secret?: {
    account: string;
    /** Whether this machine needs it, from the files the plan writes last (none: always). */
    required?(written: (path: string) => string | undefined): boolean;
    seedFiles(input: { password: string; facts: ImageFacts }): SeedFile[];
  };
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

/**
 * A drop-in that starts the unit after cloud-init has applied the seed: the seed writes the
 * service's password, and a service started before it would run unprotected or fail.
 */
export function afterSeed(unit: string): Change {
  return {
    kind: 'write-file',
    path: `/etc/systemd/system/${unit}.d/50-prescient-after-seed.conf`,
    content: '# Written by Prescient: the per-machine secrets come from the cloud-init seed.\n[Unit]\nAfter=cloud-init.service\n',
    mode: 0o644,
  };
}

/** Where the seed leaves secrets for the first-boot units that apply them. */
export const seedSecretsDir = '/etc/prescient/secrets';
