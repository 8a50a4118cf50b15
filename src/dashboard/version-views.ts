import type { VersionInfo } from '../registry/version-history.js';
import type { VersionDiff } from '../registry/version-diff.js';
import type { ChangeProvenanceView, ModelRefView, SoftwareView, VersionDiffView, VersionView } from './views.js';

type Json = Record<string, unknown>;

const obj = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/**
 * One registered version as the client page lists it, from its provenance config (usage
 * vector, plan, VM spec). Configs are read defensively: an image pushed by someone else over
 * the OCI API may carry any JSON.
 */
export function describeVersion(v: VersionInfo, config: Json, all: readonly VersionInfo[]): VersionView {
  const vector = obj(config['usageVector']);
  const resources = obj(vector['resources']);
  const spec = obj(config['vmSpec']);
  const model = obj(vector['model']);
  const vcpus = num(spec['vcpus']) ?? num(resources['vcpus']);
  const p95 = num(resources['expectedP95CpuPercent']);
  const parent = v.parent ? all.find((x) => x.digest === v.parent)?.version : undefined;
  const planned = planPackages(config);
  const base = basePackages(config);
  return {
    version: v.version,
    digest: v.digest,
    ...(v.created ? { created: v.created } : {}),
    tags: v.tags,
    ...(parent !== undefined ? { parentVersion: parent } : {}),
    sizeBytes: v.size,
    ...(vcpus !== undefined ? { vcpus } : {}),
    ...(num(spec['memoryMiB']) ?? num(resources['memoryMiB']) ? { memoryMiB: (num(spec['memoryMiB']) ?? num(resources['memoryMiB']))! } : {}),
    ...(p95 !== undefined && vcpus !== undefined ? { forecastP95CpuCores: Math.round((p95 / 100) * vcpus * 1000) / 1000 } : {}),
    ...(num(resources['expectedP95MemoryMiB']) !== undefined ? { forecastP95MemoryMiB: num(resources['expectedP95MemoryMiB'])! } : {}),
    ...(num(vector['confidence']) !== undefined ? { confidence: num(vector['confidence'])! } : {}),
    ...(typeof model['id'] === 'string' ? { model: { id: model['id'], version: String(model['version'] ?? ''), components: components(model) } } : {}),
    software: software(vector).map((sw) => ({ ...sw, inImage: planned.includes(sw.name) ? 'installed' : base.has(sw.name) ? 'base' : 'left-out' })),
    packages: planned,
    notes: planNotes(config),
  };
}

function planNotes(config: Json): { module: string; note: string }[] {
  const modules = obj(config['plan'])['modules'];
  if (!Array.isArray(modules)) return [];
  return modules.flatMap((m) => {
    const o = obj(m);
    const notes = Array.isArray(o['notes']) ? o['notes'] : [];
    return notes.filter((n): n is string => typeof n === 'string').map((note) => ({ module: String(o['id'] ?? ''), note }));
  });
}

function basePackages(config: Json): Set<string> {
  const list = obj(config['baseFacts'])['packages'];
  return new Set(Array.isArray(list) ? list.flatMap((p) => (typeof obj(p)['name'] === 'string' ? [obj(p)['name'] as string] : [])) : []);
}

/**
 * The registry's diff with the answer to "why is this here" for each change: the newer
 * version's prediction (probability, the model that made it) for packages, and the model
 * behind each resource target for resource fields.
 */
export function diffView(from: number, to: number, diff: VersionDiff, toConfig: Json): VersionDiffView {
  const vector = obj(toConfig['usageVector']);
  const model = obj(vector['model']);
  const generatedAt = typeof vector['generatedAt'] === 'string' ? vector['generatedAt'] : undefined;
  const comps = components(model);
  const modelFor = (target: RegExp): string | undefined => {
    const c = comps.find((x) => target.test(x.target));
    return c ? `${c.id}@${c.version}` : typeof model['id'] === 'string' ? `${model['id']}@${String(model['version'] ?? '')}` : undefined;
  };
  const sw = new Map(software(vector).map((s) => [s.name, s]));
  const changes: ChangeProvenanceView[] = [];
  for (const name of diff.packages.added) {
    const s = sw.get(name);
    changes.push({
      subject: `package ${name}`,
      change: 'added',
      why: {
        ...(s ? { probability: s.probability } : {}),
        ...(modelFor(/software|program/i) ? { model: modelFor(/software|program/i)! } : {}),
        ...(generatedAt ? { vectorGeneratedAt: generatedAt } : {}),
        detail: s ? (s.programs.length ? `predicted programs: ${s.programs.join(', ')}` : 'predicted package') : 'required by a predicted service or by policy',
      },
    });
  }
  for (const name of diff.packages.removed) {
    const s = sw.get(name);
    changes.push({ subject: `package ${name}`, change: 'removed', why: { ...(s ? { probability: s.probability } : {}), detail: s ? 'predicted below the install threshold' : 'no longer predicted' } });
  }
  const resourceNote = planNotes(toConfig).find((n) => n.module === 'resources')?.note;
  for (const r of diff.resources) {
    const target = /cpu/i.test(r.path) ? /cpu/i : /memory/i.test(r.path) ? /mem/i : /disk/i;
    const m = modelFor(target);
    changes.push({
      subject: r.path,
      change: 'changed',
      from: r.from,
      to: r.to,
      why: { ...(m ? { model: m } : {}), ...(generatedAt ? { vectorGeneratedAt: generatedAt } : {}), ...(r.path.startsWith('vmSpec') && resourceNote ? { detail: resourceNote } : {}) },
    });
  }
  for (const o of diff.other.filter((x) => /model|confidence|subject|horizon|generatedAt/.test(x.path) === false).slice(0, 20)) {
    changes.push({ subject: o.path.replace(/^\./, ''), change: 'changed', from: o.from, to: o.to });
  }
  return {
    from,
    to,
    layers: { added: diff.layers.added.length, removed: diff.layers.removed.length, shared: diff.layers.shared },
    changes,
    files: diff.files,
  };
}

function components(model: Json): ModelRefView[] {
  const list = model['components'];
  if (!Array.isArray(list)) return [];
  return list.flatMap((c) => {
    const o = obj(c);
    return typeof o['target'] === 'string' && typeof o['id'] === 'string' ? [{ target: o['target'], id: o['id'], version: String(o['version'] ?? '') }] : [];
  });
}

function software(vector: Json): SoftwareView[] {
  const list = vector['software'];
  if (!Array.isArray(list)) return [];
  return list
    .flatMap((s) => {
      const o = obj(s);
      const p = num(o['probability']);
      return typeof o['name'] === 'string' && p !== undefined ? [{ name: o['name'], probability: p, programs: Array.isArray(o['programs']) ? o['programs'].filter((x): x is string => typeof x === 'string') : [] }] : [];
    })
    .sort((a, b) => b.probability - a.probability);
}

function planPackages(config: Json): string[] {
  const out = new Set<string>();
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const o = v as Json;
      if (o['kind'] === 'install-packages' && Array.isArray(o['packages'])) for (const p of o['packages']) if (typeof p === 'string') out.add(p);
      Object.values(o).forEach(walk);
    }
  };
  walk(config['plan']);
  return [...out].sort();
}
