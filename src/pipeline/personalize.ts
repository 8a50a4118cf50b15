import { chmod, mkdir, realpath, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { withFileLock } from '../core/file-lock.js';
import { writePrivateFile } from '../core/private-file.js';
import type { ImageFacts } from '../image/facts.js';
import { kvmWorks } from '../image/kvm.js';
import { withImageSession } from '../image/open.js';
import * as qemuImg from '../image/qemu-img.js';
import type { BackendName } from '../image/session.js';
import { defaultPolicy, type Policy } from '../policy/policy.js';
import { checkVectorPolicy } from '../policy/vector-policy.js';
import type { UsageVector } from '../contracts/usage-vector.js';
import { applyDiskChanges, applySessionChanges, needsImage, needsSession } from './apply.js';
import { describeChange } from './change.js';
import { LayerCache, layerKey, type LayerRecord, type RemoteLayerSource } from './layer-cache.js';
import { planPipeline, type AssembledModule, type PipelinePlan } from './plan.js';
import { resolveSources, type ResolvedSources } from './sources.js';
import { glanceImage } from './spec/glance-properties.js';
import { libvirtDomainXml } from './spec/libvirt-domain.js';
import { writeSeed, type SeedFile, type SeedLogin } from './spec/cloud-init.js';
import { machineSeed } from './spec/machine-seed.js';
import { libvirtAccessProblems } from '../vm/libvirt-access.js';
import type { VmSpec } from './vm-spec.js';

/** The base image as the pipeline needs it: a file, a stable identity, and its facts. */
export interface BaseRef {
  path: string;
  key: string;
  facts: ImageFacts;
}

export type PersonalizeEvent =
  | { type: 'plan'; modules: number; ms: number }
  | { type: 'module-start'; module: string; changes: number }
  | { type: 'change'; module: string; index: number; description: string }
  | { type: 'module-done'; module: string; outcome: ModuleOutcome; ms: number };

/** `pulled`: the layer came from the remote layer source (another home built it). */
export type ModuleOutcome = 'built' | 'reused' | 'pulled' | 'no-changes' | 'spec-only';

export interface ModuleReport {
  id: string;
  version: number;
  outcome: ModuleOutcome;
  key?: string;
  layer?: string;
  layerBytes?: number;
  changes: string[];
  notes: string[];
  ms: number;
}

export interface PersonalizeReport {
  base: string;
  subject: UsageVector['subject'];
  spec: VmSpec;
  modules: ModuleReport[];
  /** The layer chain, base first: what the registry stores. */
  layers: string[];
  topKey: string;
  outputs: { disk?: string; domainXml: string; glance: string; seed: string; seedIso?: string; credentials: string; plan: string; vector: string; report: string };
  /** The machine's host name and instance id, and its user (passwords are in credentials.json only). */
  machine: { hostname: string; instanceId: string; user?: string; protectedServices: string[] };
  /** Things a user should know before starting the image (e.g. a disk chain libvirt cannot read). */
  warnings: string[];
  totalMs: number;
  /** Set by `personalize --verify`: the boot check of the result (vm/verify.ts). */
  verification?: { ok: boolean; readyMs?: number; checks: { name: string; ok: boolean; detail: string }[] };
  /** Set by `personalize --register`: the registry version made from the layers. */
  registered?: { repository: string; digest: string; tags: string[] };
}

export interface PersonalizeOptions {
  base: BaseRef;
  vector: UsageVector;
  pipeline: readonly AssembledModule[];
  outDir: string;
  layersDir: string;
  runtimeDir: string;
  /** Host folder for package downloads and lists, shared by builds (per distribution). */
  packageCacheDir?: string;
  backend?: BackendName | 'auto';
  flatten?: boolean;
  /** What the vector may contain (dataset catalogue, ports, packages, destinations); the safe default when omitted. */
  policy?: Policy;
  /** The client's login on first boot (its user and SSH public keys), through the seed. */
  login?: SeedLogin;
  /** More files for the per-machine seed (secrets welcome: the seed is never a layer). */
  seedFiles?: readonly SeedFile[];
  /** Layers other homes built (an external registry): asked on a cache miss before building. */
  remoteLayers?: RemoteLayerSource;
  signal?: AbortSignal;
  onEvent?: (e: PersonalizeEvent) => void;
}

/** Plans only: what --plan prints. */
export async function planPersonalization(options: Pick<PersonalizeOptions, 'base' | 'vector' | 'pipeline' | 'policy' | 'signal'>): Promise<PipelinePlan> {
  return (await planWithSources(options)).plan;
}

/** The plan, and the host files its datasets name (kept out of the plan, which clients see). */
async function planWithSources(options: Pick<PersonalizeOptions, 'base' | 'vector' | 'pipeline' | 'policy' | 'signal'>): Promise<{ plan: PipelinePlan; sources: ResolvedSources }> {
  const policy = options.policy ?? defaultPolicy();
  // Refused before any host file is looked at: a vector outside the policy reads nothing.
  checkVectorPolicy(options.vector, policy);
  const dataThreshold = (options.pipeline.find((m) => m.module.id === 'data')?.options as { threshold?: number } | undefined)?.threshold ?? 1.01;
  const sources = await resolveSources(options.vector, { threshold: dataThreshold, policy, ...(options.signal ? { signal: options.signal } : {}) });
  return { plan: planPipeline({ pipeline: options.pipeline, vector: options.vector, facts: options.base.facts, sources, policy }), sources };
}

/**
 * A usage vector in, a personalised image out. Each module's changes become one qcow2 overlay
 * on the previous layer, keyed by (parent, module, version, changes) and reused whenever the
 * key matches; a failed module publishes nothing and leaves every earlier layer and the base
 * as they were. The output folder gets a thin overlay on the top layer (or a flattened copy),
 * the libvirt domain, Glance properties, the cloud-init seed, the plan and the report.
 */
export async function personalize(options: PersonalizeOptions): Promise<PersonalizeReport> {
  const started = performance.now();
  const emit = options.onEvent ?? (() => undefined);
  const sig = options.signal ? { signal: options.signal } : {};
  const t0 = performance.now();
  const { plan, sources } = await planWithSources(options);
  emit({ type: 'plan', modules: plan.modules.length, ms: performance.now() - t0 });

  const cache = new LayerCache(options.layersDir);
  await mkdir(options.layersDir, { recursive: true });
  await cache.sweep();
  // the base's content-addressed name, so every layer's backing name is a digest (see layer-cache.ts)
  const base = await cache.adoptBase(options.base, options.signal);
  let parentKey = options.base.key;
  let parentPath = base.path;
  let parentDigest = base.digest;
  const layers = [base.path];
  // one package-list update per build, whichever modules install packages
  const aptState = { updated: false };
  const reports: ModuleReport[] = [];
  for (const m of plan.modules) {
    const mStarted = performance.now();
    emit({ type: 'module-start', module: m.id, changes: m.changes.length });
    const report: ModuleReport = { id: m.id, version: m.version, outcome: 'no-changes', changes: m.changes.map(describeChange), notes: m.notes, ms: 0 };
    if (needsImage(m.changes)) {
      const key = layerKey({ parent: parentKey, module: m.id, moduleVersion: m.version, changes: m.changes });
      let record = await builtOn(await cache.get(key), parentPath);
      report.outcome = 'reused';
      if (!record) {
        record = await withFileLock(join(options.layersDir, `.lock-${key}`), async () => {
          const again = await builtOn(await cache.get(key), parentPath); // built by another process while we waited
          if (again) return again;
          const pulled = await options.remoteLayers?.fetch({ key, parentDigest, cache, ...sig });
          if (pulled) {
            report.outcome = 'pulled';
            return pulled;
          }
          report.outcome = 'built';
          const tmp = await cache.tempPath(key);
          try {
            await qemuImg.createOverlay(parentPath, tmp, { backingFormat: 'qcow2', ...sig });
            // The chain built so far is ours: its files may back the new layer wherever they are.
            const trustedFiles = [...layers];
            await applyDiskChanges(tmp, m.changes, { rootPartition: options.base.facts.disk.rootPartition, runtimeDir: options.runtimeDir, trustedFiles, ...sig });
            if (needsSession(m.changes)) {
              await withImageSession(tmp, { runtimeDir: options.runtimeDir, backend: options.backend ?? 'auto', trustedFiles, ...sig }, (session) =>
                applySessionChanges(session, m.id, m.changes, {
                  ...sig,
                  aptState,
                  sources,
                  ...(options.packageCacheDir ? { packageCacheDir: join(options.packageCacheDir, `${options.base.facts.os.id}-${options.base.facts.os.versionId ?? 'unknown'}`) } : {}),
                  onChange: (index, c) => emit({ type: 'change', module: m.id, index, description: describeChange(c) }),
                }),
              );
            }
            return await cache.publish(tmp, { key, parent: parentKey, parentPath, parentDigest, module: m.id, moduleVersion: m.version, changes: m.changes, buildMs: performance.now() - mStarted }, options.signal);
          } finally {
            await rm(tmp, { force: true });
          }
        }, sig);
      }
      report.key = key;
      report.layer = record.path;
      report.layerBytes = (await qemuImg.info(record.path)).actualSize;
      parentKey = key;
      parentPath = record.path;
      // records of the old layout have no digest; nothing new is built on those (applierVersion)
      parentDigest = record.digest ?? parentDigest;
      layers.push(record.path);
    } else if (m.changes.length > 0) report.outcome = 'spec-only';
    report.ms = performance.now() - mStarted;
    emit({ type: 'module-done', module: m.id, outcome: report.outcome, ms: report.ms });
    reports.push(report);
  }

  const out = resolve(options.outDir);
  await mkdir(out, { recursive: true });
  const disk = join(out, 'disk.qcow2');
  await rm(disk, { force: true });
  if (options.flatten) await qemuImg.convert(parentPath, disk, { sourceFormat: 'qcow2', targetFormat: 'qcow2', ...sig });
  else await qemuImg.createOverlay(parentPath, disk, { backingFormat: 'qcow2', ...sig });
  await chmod(disk, 0o644);
  const name = `prescient-${options.vector.subject.clientId ?? options.vector.subject.category}`;
  const { seed: seedInput, credentials } = machineSeed({
    plan,
    facts: options.base.facts,
    subject: options.vector.subject,
    versionKey: parentKey,
    ...(options.login ? { login: options.login } : {}),
    ...(options.seedFiles ? { extraFiles: options.seedFiles } : {}),
  });
  const seed = await writeSeed(join(out, 'cloud-init'), seedInput);
  const outputs: PersonalizeReport['outputs'] = {
    disk,
    domainXml: join(out, 'domain.xml'),
    glance: join(out, 'glance-properties.json'),
    seed: seed.dir,
    ...(seed.iso ? { seedIso: seed.iso } : {}),
    credentials: join(out, 'credentials.json'),
    plan: join(out, 'plan.json'),
    vector: join(out, 'vector.json'),
    report: join(out, 'report.json'),
  };
  await writePrivateFile(outputs.credentials, `${JSON.stringify(credentials, null, 2)}\n`);
  const warnings = (await libvirtAccessProblems(options.flatten ? [disk] : [disk, ...layers])).map(
    (p) => `libvirt's QEMU user cannot open the disk chain (${p}); use --flatten, or keep the layers in a folder others can read`,
  );
  const planned = new Set([...options.base.facts.packages.map((p) => p.name), ...plan.modules.flatMap((m) => m.changes.flatMap((c) => (c.kind === 'install-packages' ? c.packages : [])))]);
  await writeFile(
    outputs.domainXml,
    libvirtDomainXml({
      name,
      spec: { ...plan.spec, hostname: credentials.hostname },
      diskPath: disk,
      ...(seed.iso ? { seedIsoPath: seed.iso } : {}),
      domainType: (await kvmWorks()) ? 'kvm' : 'qemu',
      guestAgent: planned.has('qemu-guest-agent'),
    }),
  );
  await writeFile(outputs.glance, `${JSON.stringify(glanceImage({ spec: plan.spec, os: options.base.facts.os, architecture: options.base.facts.architecture, guestAgent: planned.has('qemu-guest-agent') }), null, 2)}\n`);
  await writeFile(outputs.plan, `${JSON.stringify(plan, null, 2)}\n`);
  await writeFile(outputs.vector, `${JSON.stringify(options.vector, null, 2)}\n`);
  const report: PersonalizeReport = {
    base: options.base.path,
    subject: options.vector.subject,
    spec: plan.spec,
    modules: reports,
    layers,
    topKey: parentKey,
    outputs,
    machine: { hostname: credentials.hostname, instanceId: credentials.instanceId, ...(credentials.user ? { user: credentials.user } : {}), protectedServices: credentials.services.map((c) => c.service) },
    warnings,
    totalMs: performance.now() - started,
  };
  await writeFile(outputs.report, `${JSON.stringify(report, null, 2)}\n`);
  return report;
}

/**
 * A cached layer is reused only on the very parent file it was built on. Layers are not
 * byte-reproducible: a parent rebuilt since (its file lost, or a record replaced by another
 * home's build) leaves children that name the old parent, and a chain made of them would be
 * refused at registration. Such a child is built again, and its record replaced.
 */
async function builtOn(record: LayerRecord | undefined, parentPath: string): Promise<LayerRecord | undefined> {
  if (!record) return undefined;
  const [a, b] = await Promise.all([realpath(record.parentPath).catch(() => record.parentPath), realpath(parentPath).catch(() => parentPath)]);
  return a === b ? record : undefined;
}
