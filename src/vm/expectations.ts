import type { PipelinePlan } from '../pipeline/plan.js';
import type { VmSpec } from '../pipeline/vm-spec.js';
import { defaultInclusionThreshold, meetsThreshold } from '../pipeline/modules/inclusion-threshold.js';
import type { UsageVector } from '../contracts/usage-vector.js';
import { imageCarries } from '../usage-vector/image-software.js';

/** What a booted image must show: derived from the build's plan, or from a usage vector. */
export interface Expectations {
  packages: string[];
  units: string[];
  /** Inbound TCP ports the firewall must accept. */
  firewallTcpPorts: number[];
  /** Guest ports that must answer an HTTP GET from the host. */
  httpPorts: number[];
  /** Units whose journal lines the probe brings back (shown when a check about them fails). */
  logUnits?: string[];
  vcpus: number;
  memoryMiB: number;
  diskGiB?: number;
}

/** Services known to answer HTTP, by unit. */
const httpServices: Record<string, number> = { 'nginx.service': 80, 'apache2.service': 80 };

export function expectationsFromPlan(plan: PipelinePlan): Expectations {
  const changes = plan.modules.flatMap((m) => m.changes);
  // A oneshot unit we wrote (a first-boot step such as applying the seed's passwords) runs and
  // exits, or is skipped when its condition is unmet: it is no service that stays active.
  const oneshot = new Set(changes.flatMap((c) => (c.kind === 'write-file' && c.path.startsWith('/etc/systemd/system/') && /^Type=oneshot$/m.test(c.content) ? [c.path.slice('/etc/systemd/system/'.length)] : [])));
  const units = [...new Set(changes.flatMap((c) => (c.kind === 'enable-service' && !oneshot.has(c.unit) ? [c.unit] : [])))];
  const nft = changes.find((c) => c.kind === 'write-file' && c.path === '/etc/nftables.conf');
  const ports = nft && nft.kind === 'write-file' ? [...(/tcp dport \{ ([\d, ]+) \}/.exec(nft.content)?.[1] ?? '').matchAll(/\d+/g)].map((m) => Number(m[0])) : [];
  return {
    packages: [...new Set(changes.flatMap((c) => (c.kind === 'install-packages' ? c.packages : [])))].sort(),
    units,
    firewallTcpPorts: ports,
    httpPorts: units.flatMap((u) => (httpServices[u] ? [httpServices[u]] : [])),
    ...specPart(plan.spec),
  };
}

function specPart(spec: VmSpec): Pick<Expectations, 'vcpus' | 'memoryMiB' | 'diskGiB'> {
  return { vcpus: spec.vcpus, memoryMiB: spec.memoryMiB, diskGiB: spec.diskGiB };
}

export function expectationsFromVector(vector: UsageVector, threshold = defaultInclusionThreshold): Expectations {
  const units = vector.services.filter((s) => meetsThreshold(s.probability, threshold)).map((s) => (s.name.endsWith('.service') ? s.name : `${s.name}.service`));
  return {
    packages: vector.software.filter((s) => imageCarries(s, threshold)).map((s) => s.name).sort(),
    units,
    firewallTcpPorts: vector.network.inbound.filter((p) => p.protocol === 'tcp').map((p) => p.port),
    httpPorts: units.flatMap((u) => (httpServices[u] ? [httpServices[u]] : [])),
    vcpus: vector.resources.vcpus,
    memoryMiB: vector.resources.memoryMiB,
    diskGiB: vector.resources.diskGiB,
  };
}

/** Just boot: no packages, services or ports to check. */
export function bootOnly(): Expectations {
  return { packages: [], units: [], firewallTcpPorts: [], httpPorts: [], vcpus: 1, memoryMiB: 1024 };
}
