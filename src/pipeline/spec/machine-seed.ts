import { randomBytes } from 'node:crypto';
import type { ImageFacts } from '../../image/facts.js';
import type { UsageVector } from '../../contracts/usage-vector.js';
import { serviceTuners } from '../modules/services/services-module.js';
import type { PipelinePlan } from '../plan.js';
import type { SeedFile, SeedInput, SeedLogin } from './cloud-init.js';

/** A service's generated login, as the client (and `prescient verify`) uses it. */
export interface ServiceCredential {
  service: string;
  unit: string;
  port: number;
  account: string;
  password: string;
}

/**
 * What a machine's owner needs to use it: its user and the services' passwords. Written beside
 * the disk as credentials.json (mode 0600); it never enters a layer.
 */
export interface MachineCredentials {
  hostname: string;
  instanceId: string;
  user?: string;
  services: ServiceCredential[];
}

/** A host name for the client: RFC 1123, from its (pseudonymous) id or category. */
export function machineHostname(subject: UsageVector['subject']): string {
  const raw = (subject.clientId ?? subject.category ?? 'prescient').toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
  return (raw.slice(0, 63).replace(/-+$/, '') || 'prescient');
}

/** The units a plan enables: which protected services the machine will run. */
function enabledUnits(plan: PipelinePlan): Set<string> {
  return new Set(plan.modules.flatMap((m) => m.changes.flatMap((c) => (c.kind === 'enable-service' ? [c.unit] : []))));
}

/**
 * The per-machine seed: a fresh password for every protected service the plan enables (hex, so
 * it stands in any config syntax unquoted), the client's login, and whatever files the caller
 * adds (`extraFiles`: the in-guest agent's credential goes here). Instance id per client and
 * version (the top layer's key), so cloud-init runs its first-boot work again on a new version.
 */
export function machineSeed(input: {
  plan: PipelinePlan;
  facts: ImageFacts;
  subject: UsageVector['subject'];
  versionKey: string;
  login?: SeedLogin;
  extraFiles?: readonly SeedFile[];
}): { seed: SeedInput; credentials: MachineCredentials } {
  const units = enabledUnits(input.plan);
  const hostname = machineHostname(input.subject);
  const instanceId = `${hostname}-${input.versionKey.slice(0, 16)}`;
  const files: SeedFile[] = [];
  const services: ServiceCredential[] = [];
  const written = (path: string): string | undefined =>
    input.plan.modules.flatMap((m) => m.changes.flatMap((c) => (c.kind === 'write-file' && c.path === path ? [c.content] : []))).at(-1);
  for (const t of serviceTuners) {
    if (!t.secret || !units.has(t.unit)) continue;
    if (t.secret.required && !t.secret.required(written)) continue;
    const password = randomBytes(16).toString('hex');
    files.push(...t.secret.seedFiles({ password, facts: input.facts }));
    services.push({ service: t.name, unit: t.unit, port: t.ports[0]!, account: t.secret.account, password });
  }
  files.push(...(input.extraFiles ?? []));
  return {
    seed: { instanceId, hostname, ...(input.login ? { login: input.login } : {}), files },
    credentials: { hostname, instanceId, ...(input.login ? { user: input.login.user } : {}), services },
  };
}
