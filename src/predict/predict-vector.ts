import { defaultResources, defaultVector } from '../contracts/default-vector.js';
import type { Predictor } from '../contracts/predictor.js';
import { ValidationError } from '../core/errors.js';
import { datasetDestination } from '../policy/dataset-destination.js';
import { defaultPolicy, type PolicySource } from '../policy/policy.js';
import { catalogueEntry, confineVector } from '../policy/vector-policy.js';
import { debianPackageNamePattern, guestPathPattern, hostPattern, type UsageVector } from '../contracts/usage-vector.js';
import { parseUsageVector } from '../usage-vector/validate.js';
import type { HistorySource, ResourceSeries } from './history.js';
import { applyGuestUse } from './guest-feedback.js';
import { allocate } from './metrics.js';
import { calibratedAllocation } from './forecast/calibrated-allocation.js';
import type { MarginSource } from './forecast/subject-allocation.js';
import { loadResourceModel, loadSequenceModel } from './model-catalog.js';
import { currentVersion, loadModelSet, type ModelSet, type Scope, type StoredPackageSet } from './model-store.js';
import { choosePackages, expectedShares } from './package-set/package-set.js';
import type { ResourceModel, SequenceModel } from './models/model.js';
import { serviceForPackage, serviceForPort } from './service-catalog.js';
import { resourceHorizons } from './train.js';
import { windowQuantile } from './window-stats.js';

interface LoadedSet {
  set: ModelSet;
  resource: Map<string, ResourceModel>;
  sequence: Map<string, SequenceModel>;
}

/**
 * Turns history and the current trained models into usage vectors. A model set is loaded once
 * per scope and version and kept, so a server answers each request in milliseconds; each call
 * reads only the scope's `current` pointer, so a `prescient train` run next to a running server
 * is picked up by its next request.
 */
export function createPredictor(deps: { history: HistorySource; modelsDir: string; policy?: PolicySource }): Predictor {
  const cache = new Map<string, { version: number; set: Promise<LoadedSet | undefined> }>();
  const load = async (scope: Scope): Promise<LoadedSet | undefined> => {
    const version = await currentVersion(deps.modelsDir, scope);
    if (version === undefined) return undefined;
    const key = `${scope.kind}:${scope.id}`;
    let entry = cache.get(key);
    if (entry?.version !== version) {
      entry = { version, set: loadSet(deps.modelsDir, scope, version) };
      cache.set(key, entry);
    }
    return entry.set;
  };

  return {
    async predict(request) {
      if (!request.clientId && !request.category) throw new ValidationError('--client', 'give a client or a category');
      const now = request.now ?? new Date();
      const horizonHours = request.horizonHours ?? 24;
      const horizon = horizonHours <= 1 ? resourceHorizons[0] : resourceHorizons[1];
      let category = request.category;
      let series: ResourceSeries | undefined;
      let launches: string[] = [];
      if (request.clientId) {
        const subject = (await deps.history.subjects(request.signal)).find((s) => s.id === request.clientId);
        category ??= subject?.category;
        if (subject) {
          series = await deps.history.resourceSeries(subject.id, request.signal);
          launches = (await deps.history.launches(subject.id, request.signal)).map((e) => e.program);
        }
      }
      const own = request.clientId ? await load({ kind: 'client', id: request.clientId }) : undefined;
      const loaded = own ?? (category ? await load({ kind: 'category', id: category }) : undefined);
      const flows = request.clientId ? await deps.history.networkFlows(request.clientId, request.signal) : [];
      const accesses = request.clientId ? await deps.history.dataAccesses(request.clientId, request.signal) : [];
      const hasOwnHistory = series !== undefined || launches.length > 0;

      const vector = defaultVector({
        subject: { ...(request.clientId ? { clientId: request.clientId } : {}), ...(category ? { category } : {}) },
        horizon: { startsAt: now.toISOString(), hours: horizonHours },
        generatedAt: new Date().toISOString(),
      });
      if (loaded) {
        const { set } = loaded;
        vector.model = { id: 'selector', version: `${set.scope.kind}-${set.scope.id}.v${set.version}`, components: [] };
        const confidences: number[] = [];
        // Resources: the subject's own series through the selected models, else the profile.
        const capacity = series?.capacity ?? set.profile.capacity;
        const cores = capacity?.cpuCores ?? defaultResources.vcpus;
        const memMiB = capacity?.memoryMiB ?? defaultResources.memoryMiB;
        /**
         * The peak forecast and the allocation. With the subject's own series: the allocation
         * model chosen on validation plus the subject's own calibrated margin (as `eval` scores
         * it); otherwise the category's medians. Model sets trained before the rolling-origin
         * selection carry no allocation rule: the selected model's allocation output and the
         * category's margin, as then. The vector names which margin it added (`<target>/margin`):
         * the subject's own, the pooled one (its history too short to calibrate its own), none, or
         * the scope's median (no series of its own).
         */
        const marginUsed = (target: string, id: MarginSource | 'median'): void => void vector.model.components!.push({ target: `${target}/margin`, id, version: '1' });
        const allocationOf = (target: 'cpuPercent' | 'memoryPercent'): { peak: number; allocation: number } | undefined => {
          const sel = set.selections.find((s) => s.target === `${target}@${horizon}`);
          if (!sel) return undefined;
          vector.model.components!.push({ target: sel.target, id: sel.selected, version: loaded.resource.get(`${target}:${sel.selected}`)?.version ?? '1' });
          // What drives the allocation is named too: a rule, when the forecaster did not beat it on validation.
          if (sel.allocation) vector.model.components!.push({ target: `${sel.target}/allocation`, id: sel.allocation.model, version: loaded.resource.get(`${target}:${sel.allocation.model}`)?.version ?? '1' });
          confidences.push((set.profile.skill[sel.target] ?? 0.5) * (hasOwnHistory ? 1 : 0.7));
          const values = series?.[target];
          const model = loaded.resource.get(`${target}:${sel.selected}`);
          const margin = set.profile.margins[target]?.[horizon] ?? 0;
          if (values && values.length > 0 && model) {
            const query = { series: values, origins: [values.length], horizon };
            const peak = model.predict(query)[0]!;
            const allocator = sel.allocation ? loaded.resource.get(`${target}:${sel.allocation.model}`) : undefined;
            if (sel.allocation && allocator) {
              const a = calibratedAllocation(allocator, values, horizon, sel.allocation);
              marginUsed(sel.target, a.marginSource);
              return { peak, allocation: a.allocation };
            }
            marginUsed(sel.target, 'median');
            return { peak, allocation: allocate(model.allocationBasis?.(query)[0] ?? peak, margin) };
          }
          const peak = set.profile.peaks[target]?.[horizon];
          const basis = set.profile.allocationBases?.[target]?.[horizon] ?? peak;
          if (peak === undefined || basis === undefined) return undefined;
          marginUsed(sel.target, 'median');
          return { peak, allocation: allocate(basis, margin) };
        };
        const cpu = allocationOf('cpuPercent');
        if (cpu !== undefined && Number.isFinite(cpu.peak) && Number.isFinite(cpu.allocation)) {
          vector.resources.vcpus = Math.max(1, Math.ceil((cores * cpu.allocation) / 100 - 1e-9));
          vector.resources.expectedP95CpuPercent = round(Math.min(100, (cpu.peak * cores) / vector.resources.vcpus));
        }
        const mem = allocationOf('memoryPercent');
        if (mem !== undefined && Number.isFinite(mem.peak) && Number.isFinite(mem.allocation)) {
          vector.resources.memoryMiB = Math.max(512, Math.ceil((memMiB * mem.allocation) / 100 / 256) * 256);
          vector.resources.expectedP95MemoryMiB = round((memMiB * mem.peak) / 100);
        }
        const rate = (metric: 'diskReadKBps' | 'diskWriteKBps' | 'networkInKBps' | 'networkOutKBps'): number => {
          const v = series?.[metric];
          const r = v && v.length > 0 ? windowQuantile(v, v.length - horizon, v.length, 0.95) : set.profile.rates[metric];
          return round(r !== undefined && Number.isFinite(r) ? r : 0);
        };
        vector.resources.diskReadKBps = rate('diskReadKBps');
        vector.resources.diskWriteKBps = rate('diskWriteKBps');
        vector.resources.networkInKBps = rate('networkInKBps');
        vector.resources.networkOutKBps = rate('networkOutKBps');

        // Software: programs likely used in the next block of activity, mapped to packages.
        const setSel = set.selections.find((s) => s.target === 'software@next-set');
        let programs: { program: string; p: number }[] = [];
        if (setSel) {
          const model = loaded.sequence.get(setSel.selected);
          vector.model.components!.push({ target: setSel.target, id: setSel.selected, version: model?.version ?? '1' });
          confidences.push((set.profile.skill[setSel.target] ?? 0.5) * (launches.length > 0 ? 1 : 0.7));
          if (model && launches.length > 0) programs = model.predict({ history: launches }).distribution(40).map((d) => ({ program: d.item, p: d.p }));
          else programs = set.profile.programs.slice(0, 40).map((d) => ({ program: d.program, p: d.share }));
        }
        vector.software = softwareFrom(programs, set.profile.packages);
        // The software set for the image drives the list when it won its selection on the training part.
        const imageSel = set.selections.find((s) => s.target === 'software@image-set');
        const stored = set.profile.packageSets?.[horizonHours > 24 ? 'week' : 'day'];
        if (imageSel?.selected === 'package-set' && stored) {
          vector.model.components = vector.model.components!.filter((c) => c.target !== 'software@next-set');
          vector.model.components!.push({ target: imageSel.target, id: imageSel.selected, version: '1' });
          const i = confidences.length - (setSel ? 1 : 0);
          confidences.splice(i, setSel ? 1 : 0, (set.profile.skill[imageSel.target] ?? 0.5) * (launches.length > 0 ? 1 : 0.7));
          vector.software = packageSetSoftware(launches, set.profile.packages, stored);
        }
        vector.confidence = round(confidences.length ? confidences.reduce((a, b) => a + b, 0) / confidences.length : 0, 3);
      }
      // What the client did inside its delivered machines (in-guest agent, with consent) corrects the software.
      const guest = request.clientId ? await deps.history.guestUse?.(request.clientId, request.signal) : undefined;
      if (guest) vector.software = applyGuestUse(vector.software, guest).software;
      // Services: from the predicted software and from the ports the subject listened on.
      const services = new Map<string, UsageVector['services'][number]>();
      for (const s of vector.software) {
        const spec = serviceForPackage(s.name);
        if (spec) services.set(spec.service, { name: spec.service, expectedLoad: spec.load, concurrency: spec.concurrency, ports: spec.ports, probability: s.probability });
      }
      const inbound = new Map<string, { port: number; protocol: 'tcp' | 'udp' }>();
      for (const f of flows) {
        if (f.direction !== 'inbound' || f.port < 1 || f.port > 65535) continue;
        inbound.set(`${f.protocol}/${f.port}`, { port: f.port, protocol: f.protocol });
        const spec = serviceForPort(f.port);
        if (spec && !services.has(spec.service)) {
          services.set(spec.service, { name: spec.service, expectedLoad: { connections: f.count }, concurrency: spec.concurrency, ports: spec.ports, probability: 0.9 });
          // A service seen listening needs its package, whether or not its programs were seen launched.
          if (!vector.software.some((s) => s.name === spec.package)) vector.software.push({ name: spec.package, probability: 0.9, programs: [] });
        }
      }
      for (const s of services.values()) for (const p of s.ports ?? []) inbound.set(`${p.protocol}/${p.port}`, p);
      vector.services = [...services.values()];
      vector.network.inbound = [...inbound.values()].sort((a, b) => a.port - b.port);
      const outbound = new Map<string, UsageVector['network']['outbound'][number]>();
      for (const f of flows) {
        if (f.direction !== 'outbound' || !f.host || !hostPattern.test(f.host) || f.port < 1 || f.port > 65535) continue;
        outbound.set(`${f.host}:${f.port}/${f.protocol}`, { host: f.host, port: f.port, protocol: f.protocol });
      }
      vector.network.outbound = [...outbound.values()];
      // Datasets: what the subject read of the admin's catalogue, most used first. An access naming
      // anything else (a host path, a URI) stays an observation: telemetry never names a source.
      const policy = deps.policy ? await deps.policy() : defaultPolicy();
      const totalAccess = accesses.reduce((a, d) => a + d.count, 0);
      vector.datasets = accesses
        .flatMap((d) => {
          const found = catalogueEntry(policy, d.target);
          if (!found || !(d.sizeBytes >= 0)) return [];
          const destination = datasetDestination(found.entry, found.relative);
          return guestPathPattern.test(destination) ? [{ d, destination }] : [];
        })
        .sort((a, b) => b.d.count - a.d.count)
        .slice(0, 10)
        .map(({ d, destination }) => ({ source: d.target, destination, sizeBytes: Math.round(d.sizeBytes), probability: round(Math.min(1, d.count / Math.max(1, totalAccess) + 0.5), 3) }));
      // Flows describe; the policy decides: ports only of known predicted services or the admin's, destinations only from the allowlist.
      return parseUsageVector(confineVector(vector, policy).vector);
    },
  };
}

async function loadSet(modelsDir: string, scope: Scope, version: number): Promise<LoadedSet | undefined> {
  const set = await loadModelSet(modelsDir, scope, version);
  if (!set) return undefined;
  const resource = new Map<string, ResourceModel>();
  const sequence = new Map<string, SequenceModel>();
  // Only the models some selection uses are loaded: the network costs the most to load.
  const used = new Set(set.selections.flatMap((s) => [s.selected, ...(s.allocation ? [s.allocation.model] : [])].map((id) => `${s.target.split('@')[0]}:${id}`)));
  for (const m of set.models) {
    if (m.target === 'software') {
      if (used.has(`software:${m.id}`)) sequence.set(m.id, await loadSequenceModel(m));
    } else if (used.has(`${m.target}:${m.id}`)) {
      // A model stored by an older version of its code (lstm-quantile@1 before the allocation
      // output) cannot be read by this one: the scope then answers from its profile, as a
      // client without history would, until it is trained again.
      const model = await loadResourceModel(m).catch((e: unknown) => {
        if (e instanceof ValidationError) return undefined;
        throw e;
      });
      if (model) resource.set(`${m.target}:${m.id}`, model);
    }
  }
  return { set, resource, sequence };
}

/**
 * Next-block probabilities of programs → probabilities of packages. A program's chance to be used
 * in the next 100 launches is 1 − (1 − p)^100; a package is needed if any of its programs is.
 */
function softwareFrom(programs: readonly { program: string; p: number }[], packages: Record<string, string>): UsageVector['software'] {
  const byPackage = new Map<string, { miss: number; programs: string[] }>();
  for (const { program, p } of programs) {
    const pkg = packages[program];
    if (!pkg || !/^[a-z0-9][a-z0-9+.-]+$/.test(pkg)) continue;
    const inBlock = 1 - Math.pow(1 - Math.min(1, Math.max(0, p)), 100);
    const e = byPackage.get(pkg) ?? { miss: 1, programs: [] };
    e.miss *= 1 - inBlock;
    if (/^[A-Za-z0-9_+.:-]{1,128}$/.test(program)) e.programs.push(program);
    byPackage.set(pkg, e);
  }
  return [...byPackage]
    .map(([name, e]) => ({ name, probability: round(Math.min(0.99, 1 - e.miss), 3), programs: e.programs }))
    .filter((s) => s.probability >= 0.2)
    .sort((a, b) => b.probability - a.probability)
    .slice(0, 30);
}

/**
 * The packages the set predictor carries: the subject's own launches (mapped to packages, the
 * recent ones weighted more) with the population prior, kept where their share per byte reaches
 * the threshold chosen on the training part — each marked `inImageSet`, so the image carries it
 * whatever its probability (`imageCarries`). Probability: that the package serves at least one of
 * the horizon's launches, 1 − (1 − share)^items.
 */
function packageSetSoftware(launches: readonly string[], packages: Record<string, string>, stored: StoredPackageSet): UsageVector['software'] {
  // As the evaluation reads a stream: a launch counts as served only by a package of known size.
  const stream = launches.map((p) => (packages[p] !== undefined && stored.bytes[packages[p]!] !== undefined ? packages[p] : undefined));
  const settings = stored.settings ?? [{ halfLifeLaunches: stored.halfLifeLaunches ?? 300, priorWeight: stored.priorWeight ?? 20 }];
  const shares = expectedShares(stream, settings, new Map(Object.entries(stored.prior)));
  const programsOf = new Map<string, Set<string>>();
  for (const p of launches) {
    const pkg = packages[p];
    if (pkg && /^[A-Za-z0-9_+.:-]{1,128}$/.test(p)) (programsOf.get(pkg) ?? programsOf.set(pkg, new Set()).get(pkg)!).add(p);
  }
  return choosePackages(shares, (pkg) => stored.bytes[pkg], stored.threshold)
    .filter((c) => debianPackageNamePattern.test(c.name))
    .slice(0, 60)
    .map((c) => ({ name: c.name, probability: round(Math.min(0.99, 1 - Math.pow(1 - Math.min(1, c.share), stored.items)), 3), programs: [...(programsOf.get(c.name) ?? [])].slice(0, 20), inImageSet: true }));
}

function round(v: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
