import type { PackageIndex } from '../predict/package-index.js';
import { serviceForPackage } from '../predict/service-catalog.js';
import type { PipelinePlan } from '../pipeline/plan.js';
import type { VmSpec } from '../pipeline/vm-spec.js';
import type { GuestActivity } from '../store/store.js';
import { installedPackagePrefix } from '../contracts/telemetry-event.js';
import type { UsageVector } from '../contracts/usage-vector.js';

/**
 * Predicted against observed for one delivered image version: what its vector and plan said the
 * client would need, scored against what the version's in-guest agent reported while it ran.
 * Pure: the caller gathers the version (registry) and the activity (store).
 */
export interface VersionAccuracy {
  observed: { fromMs: number; toMs: number; samples: number };
  resources: { cpu: ResourceScore; memory: ResourceScore };
  software: {
    /** Predicted packages (planned into the image) with what showed them used. */
    used: { package: string; evidence: string[] }[];
    unused: string[];
    /** Used but not in the image: installed by hand after delivery, or a command not found, with the package that would have served it when known. */
    missing: { package: string | null; program?: string; how: 'installed-after-delivery' | 'command-not-found' }[];
  };
  services: {
    /** Predicted inbound ports that received connections. */
    receiving: { port: number; protocol: string; connections: number }[];
    /** Predicted inbound ports that received none. */
    idle: { port: number; protocol: string; listening: boolean }[];
    /** Connection attempts on ports nothing listened on (or the firewall closed). */
    refused: { port: number; protocol: string; attempts: number }[];
  };
  datasets: { destination: string; read: boolean }[];
}

export interface ResourceScore {
  /** What the version was given: vCPUs, or MiB of memory. */
  allocated: number;
  /** What the vector expected at p95, in the same unit. */
  predictedP95: number;
  /** Observed p95 over the version's minutes, in the same unit (null: no sample). */
  observedP95: number | null;
  /** Share of minutes above the predicted p95 (about 0.05 when the forecast is right). */
  shareAbovePredicted: number | null;
  /** Share of minutes at the allocation (≥ 95 % of it): the machine was too small then. */
  shareSaturated: number | null;
  /** Allocation not used at p95, in the unit and as a share of the allocation. */
  waste: number | null;
  wasteShare: number | null;
}

export interface ScoreInput {
  vector: UsageVector;
  plan: PipelinePlan;
  spec: VmSpec;
  activity: GuestActivity;
  span: { fromMs: number; toMs: number };
  /** Program → package (the base image's and the archive's), to tell which package a program belongs to. */
  packages: PackageIndex;
}

/** Packages the image infrastructure installs (firewall, the agent itself): never "predicted". */
const infrastructureModules = new Set(['network', 'agent', 'resources']);

export function scoreVersion(input: ScoreInput): VersionAccuracy {
  const { vector, plan, spec, activity, packages } = input;
  return {
    observed: { fromMs: input.span.fromMs, toMs: input.span.toMs, samples: activity.samples.length },
    resources: scoreResources(vector, spec, activity),
    software: scoreSoftware(vector, plan, activity, packages),
    services: scoreServices(vector, activity),
    datasets: scoreDatasets(plan, activity),
  };
}

function scoreResources(vector: UsageVector, spec: VmSpec, activity: GuestActivity): VersionAccuracy['resources'] {
  const cores = activity.samples.filter((s) => s.cpuPercent !== null).map((s) => ((s.cpuPercent ?? 0) / 100) * (s.cpuCores ?? spec.vcpus));
  const memory = activity.samples.filter((s) => s.memoryBytes !== null).map((s) => (s.memoryBytes ?? 0) / 1024 ** 2);
  const memoryTotal = Math.max(0, ...activity.samples.map((s) => (s.memoryTotalBytes ?? 0) / 1024 ** 2));
  return {
    cpu: score(cores, spec.vcpus, (vector.resources.expectedP95CpuPercent / 100) * vector.resources.vcpus, spec.vcpus),
    // The guest sees a little less than it was given (the kernel's own): saturation is against what it saw.
    memory: score(memory, spec.memoryMiB, vector.resources.expectedP95MemoryMiB, memoryTotal > 0 ? memoryTotal : spec.memoryMiB),
  };
}

function score(values: readonly number[], allocated: number, predictedP95: number, capacity: number): ResourceScore {
  if (values.length === 0) return { allocated, predictedP95: round(predictedP95), observedP95: null, shareAbovePredicted: null, shareSaturated: null, waste: null, wasteShare: null };
  const sorted = [...values].sort((a, b) => a - b);
  const p95 = sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)]!;
  const share = (f: (v: number) => boolean): number => round(values.filter(f).length / values.length, 3);
  const waste = Math.max(0, allocated - p95);
  return {
    allocated,
    predictedP95: round(predictedP95),
    observedP95: round(p95),
    shareAbovePredicted: share((v) => v > predictedP95),
    shareSaturated: share((v) => v >= 0.95 * capacity),
    waste: round(waste),
    wasteShare: allocated > 0 ? round(waste / allocated, 3) : null,
  };
}

function scoreSoftware(vector: UsageVector, plan: PipelinePlan, activity: GuestActivity, packages: PackageIndex): VersionAccuracy['software'] {
  const planned = new Set<string>();
  for (const m of plan.modules) {
    if (infrastructureModules.has(m.id)) continue;
    for (const c of m.changes) if (c.kind === 'install-packages') c.packages.forEach((p) => planned.add(p));
  }
  const predicted = vector.software.filter((s) => planned.has(s.name));
  const launched = activity.programs.filter((p) => p.outcome === null).map((p) => p.name.slice(p.name.lastIndexOf('/') + 1));
  const accepted = new Map<number, number>();
  for (const f of activity.flows) if (f.direction === 'in' && f.outcome === null) accepted.set(f.port, (accepted.get(f.port) ?? 0) + f.flows);
  const used: VersionAccuracy['software']['used'] = [];
  const unused: string[] = [];
  for (const s of predicted) {
    const service = serviceForPackage(s.name);
    const names = new Set([s.name, ...(s.programs ?? []), ...(service ? [service.service] : [])]);
    const evidence = [...new Set(launched.filter((prog) => names.has(prog) || packages.packageOf(prog) === s.name))].sort().map((prog) => `launched ${prog}`);
    for (const p of service?.ports ?? []) if ((accepted.get(p.port) ?? 0) > 0) evidence.push(`connections on ${p.protocol}/${p.port}`);
    if (evidence.length > 0) used.push({ package: s.name, evidence });
    else unused.push(s.name);
  }
  const inImage = new Set([...planned]);
  const missing: VersionAccuracy['software']['missing'] = [];
  for (const a of activity.accesses) {
    if (!a.target.startsWith(installedPackagePrefix)) continue;
    const pkg = a.target.slice(installedPackagePrefix.length);
    if (!inImage.has(pkg)) missing.push({ package: pkg, how: 'installed-after-delivery' });
  }
  const byHand = new Set(missing.map((m) => m.package));
  for (const p of activity.programs) {
    if (p.outcome !== 'not-found') continue;
    const pkg = packages.packageOf(p.name) ?? null;
    // A command that failed before its package was installed by hand is the same miss, said once.
    if (pkg !== null && byHand.has(pkg)) continue;
    missing.push({ package: pkg, program: p.name, how: 'command-not-found' });
  }
  missing.sort((a, b) => (a.package ?? a.program ?? '').localeCompare(b.package ?? b.program ?? ''));
  return { used: used.sort((a, b) => a.package.localeCompare(b.package)), unused: unused.sort(), missing };
}

function scoreServices(vector: UsageVector, activity: GuestActivity): VersionAccuracy['services'] {
  const inbound = activity.flows.filter((f) => f.direction === 'in');
  const count = (port: number, protocol: string, outcome: string | null): number =>
    inbound.filter((f) => f.port === port && f.protocol === protocol && f.outcome === outcome).reduce((n, f) => n + f.flows, 0);
  const predicted = new Map<string, { port: number; protocol: string }>();
  for (const p of vector.network.inbound) predicted.set(`${p.protocol}/${p.port}`, p);
  const receiving: VersionAccuracy['services']['receiving'] = [];
  const idle: VersionAccuracy['services']['idle'] = [];
  for (const p of [...predicted.values()].sort((a, b) => a.port - b.port)) {
    const n = count(p.port, p.protocol, null);
    if (n > 0) receiving.push({ port: p.port, protocol: p.protocol, connections: n });
    else idle.push({ port: p.port, protocol: p.protocol, listening: count(p.port, p.protocol, 'listening') > 0 });
  }
  const refused = new Map<string, { port: number; protocol: string; attempts: number }>();
  for (const f of inbound) {
    if (f.outcome !== 'refused') continue;
    const k = `${f.protocol}/${f.port}`;
    const r = refused.get(k) ?? { port: f.port, protocol: f.protocol, attempts: 0 };
    r.attempts += f.flows;
    refused.set(k, r);
  }
  return { receiving, idle, refused: [...refused.values()].sort((a, b) => a.port - b.port) };
}

function scoreDatasets(plan: PipelinePlan, activity: GuestActivity): VersionAccuracy['datasets'] {
  const read = new Set(activity.accesses.filter((a) => a.op === 'read').map((a) => a.target));
  return plan.modules
    .filter((m) => m.id === 'data')
    .flatMap((m) => m.changes)
    .flatMap((c) => (c.kind === 'copy-data' ? [c.destination] : []))
    .sort()
    .map((destination) => ({ destination, read: read.has(destination) }));
}

function round(v: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
