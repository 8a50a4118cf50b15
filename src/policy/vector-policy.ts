import { ValidationError } from '../core/errors.js';
import { serviceNamed } from '../predict/service-catalog.js';
import type { UsageVector } from '../contracts/usage-vector.js';
import { outboundAllowed } from './outbound-allowed.js';
import type { DatasetEntry, Policy } from './policy.js';

/**
 * What a usage vector may contain, by the admin policy. One set of rules, used two ways: a
 * vector someone wrote is refused at planning with the first field outside the policy
 * (`checkVectorPolicy`); a predicted one is cut down to what the policy allows
 * (`confineVector`), because telemetry describes and must never command.
 */

/** A vector field outside the admin policy; VALIDATION, so it is never retried, and the field is named. */
export class PolicyError extends ValidationError {
  constructor(field: string, message: string, details?: Record<string, unknown>) {
    super(field, `${message} (admin policy: policy.json)`, { policy: true, ...details });
  }
}

export interface PolicyViolation {
  field: string;
  message: string;
}

/** A relative path inside a folder entry: no empty, `.` or `..` segment, no leading or trailing slash. */
const relativePathPattern = /^(?!\.\.?(?:\/|$))[^/\u0000-\u001f]+(?:\/(?!\.\.?(?:\/|$))[^/\u0000-\u001f]+)*$/;

/** The catalogue entry a vector's `datasets[].source` names: `NAME`, or `NAME/relative/path` in a folder entry. */
export function catalogueEntry(policy: Policy, source: string): { entry: DatasetEntry; relative?: string } | undefined {
  const slash = source.indexOf('/');
  const name = slash < 0 ? source : source.slice(0, slash);
  const entry = policy.datasets.find((d) => d.name === name);
  if (!entry) return undefined;
  if (slash < 0) return entry.kind === 'file' ? { entry } : undefined;
  const relative = source.slice(slash + 1);
  return entry.kind === 'folder' && relativePathPattern.test(relative) ? { entry, relative } : undefined;
}

/** The package that runs a service, as the service catalogue knows it. */
function servicePackage(service: string): string | undefined {
  return serviceNamed(service)?.package;
}

/** SSH, which the network module keeps open on every image whatever the vector says (its `keepSsh` option). */
const sshPort = 'tcp/22';

/** Inbound ports a vector may open: SSH, the admin's, and those of the known services it predicts whose package is not denied. */
export function allowedInbound(vector: Pick<UsageVector, 'services'>, policy: Policy): Set<string> {
  const out = new Set([sshPort, ...policy.inbound.allow.map((p) => `${p.protocol}/${p.port}`)]);
  for (const s of vector.services) {
    const spec = serviceNamed(s.name);
    if (spec && !policy.packages.deny.includes(spec.package)) for (const p of spec.ports) out.add(`${p.protocol}/${p.port}`);
  }
  return out;
}

function proxyDestination(url: string): { host: string; port: number } {
  const u = new URL(url);
  const defaults: Record<string, number> = { 'http:': 80, 'https:': 443, 'socks5:': 1080, 'socks5h:': 1080 };
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port ? Number(u.port) : (defaults[u.protocol] ?? 0) };
}

/** Every field of the vector outside the policy, in vector order. */
export function policyViolations(vector: UsageVector, policy: Policy): PolicyViolation[] {
  const out: PolicyViolation[] = [];
  const deny = new Set(policy.packages.deny);
  for (const [i, d] of vector.datasets.entries()) {
    const found = catalogueEntry(policy, d.source);
    if (!found) out.push({ field: `datasets[${i}].source`, message: 'not in the dataset catalogue (prescient datasets ls)' });
    else if (d.sizeBytes > found.entry.maxBytes) out.push({ field: `datasets[${i}].sizeBytes`, message: `over the ${found.entry.maxBytes}-byte cap of dataset ${found.entry.name}` });
  }
  for (const [i, s] of vector.software.entries()) if (deny.has(s.name)) out.push({ field: `software[${i}].name`, message: `${s.name} is on the package deny list` });
  for (const [i, s] of vector.services.entries()) {
    const pkg = servicePackage(s.name);
    if (pkg && deny.has(pkg)) out.push({ field: `services[${i}].name`, message: `its package ${pkg} is on the package deny list` });
  }
  const inbound = allowedInbound(vector, policy);
  for (const [i, s] of vector.services.entries()) {
    for (const [j, p] of (s.ports ?? []).entries()) {
      if (!inbound.has(`${p.protocol}/${p.port}`)) out.push({ field: `services[${i}].ports[${j}]`, message: `${p.protocol}/${p.port} is neither a port of a known predicted service nor allowed inbound` });
    }
  }
  for (const [i, p] of vector.network.inbound.entries()) {
    if (!inbound.has(`${p.protocol}/${p.port}`)) out.push({ field: `network.inbound[${i}]`, message: `${p.protocol}/${p.port} is neither a port of a known predicted service nor allowed inbound` });
  }
  for (const [i, o] of vector.network.outbound.entries()) {
    if (!outboundAllowed(policy, o)) out.push({ field: `network.outbound[${i}].host`, message: `${o.host}${o.port ? `:${o.port}` : ''} is not on the outbound allowlist` });
  }
  if (vector.network.proxy) {
    const dest = proxyDestination(vector.network.proxy.url);
    if (!outboundAllowed(policy, dest)) out.push({ field: 'network.proxy.url', message: `the proxy ${dest.host}:${dest.port} is not on the outbound allowlist` });
  }
  return out;
}

/** A vector someone made: the first field outside the policy is an error naming it (all of them in `details.violations`). */
export function checkVectorPolicy(vector: UsageVector, policy: Policy): void {
  const violations = policyViolations(vector, policy);
  const first = violations[0];
  if (first) throw new PolicyError(first.field, first.message, { violations });
}

/**
 * A predicted vector cut down to the policy: uncatalogued datasets, denied packages (and the
 * services that need them), ports no known service or admin allows, and destinations off the
 * allowlist are left out; a catalogued dataset is capped at its entry's size. `removed` says what.
 */
export function confineVector(vector: UsageVector, policy: Policy): { vector: UsageVector; removed: PolicyViolation[] } {
  const removed = policyViolations(vector, policy);
  if (removed.length === 0) return { vector, removed };
  const deny = new Set(policy.packages.deny);
  const services = vector.services.filter((s) => !deny.has(servicePackage(s.name) ?? ''));
  const inbound = allowedInbound({ services }, policy);
  const open = (p: { port: number; protocol: 'tcp' | 'udp' }): boolean => inbound.has(`${p.protocol}/${p.port}`);
  const datasets = vector.datasets.flatMap((d) => {
    const found = catalogueEntry(policy, d.source);
    return found ? [{ ...d, sizeBytes: Math.min(d.sizeBytes, found.entry.maxBytes) }] : [];
  });
  const proxy = vector.network.proxy && outboundAllowed(policy, proxyDestination(vector.network.proxy.url)) ? vector.network.proxy : null;
  return {
    vector: {
      ...vector,
      software: vector.software.filter((s) => !deny.has(s.name)),
      services: services.map((s) => (s.ports ? { ...s, ports: s.ports.filter(open) } : s)),
      datasets,
      network: { inbound: vector.network.inbound.filter(open), outbound: vector.network.outbound.filter((o) => outboundAllowed(policy, o)), proxy },
    },
    removed,
  };
}

/** Clients may ask only for the bases the admin allowlisted. */
export function checkBaseAllowed(policy: Policy, name: string, field = 'base'): void {
  if (!policy.bases.allow.includes(name)) throw new PolicyError(field, `${JSON.stringify(name)} is not an allowed base (allowed: ${policy.bases.allow.join(', ') || 'none'})`);
}
