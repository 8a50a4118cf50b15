import { canonicalJson } from '../core/canonical-json.js';
import type { Digest } from '../core/digest.js';
import type { ImageManifest } from './oci-types.js';

/**
 * What changed between two versions, read from their provenance configs and layer lists.
 * The config is the pipeline's JSON (usageVector, plan: Change[], vmSpec, baseFacts, model,
 * timings); the diff does not depend on one exact Change schema: it recognises
 *  - packages: any `packages: string[]` inside the plan (install changes);
 *  - files: plan entries with a `path` whose kind mentions file/config (content compared);
 *  - data: plan entries whose kind mentions data/dataset, plus `usageVector.datasets`;
 *  - resources: every leaf of `vmSpec` and `usageVector.resources`;
 * and lists any other changed leaf (model, plan order…) under `other`.
 */
export interface FieldChange {
  path: string;
  from?: unknown;
  to?: unknown;
}

export interface SetChange {
  added: string[];
  removed: string[];
}

export interface VersionDiff {
  from: Digest;
  to: Digest;
  layers: { added: Digest[]; removed: Digest[]; shared: number };
  packages: SetChange;
  files: SetChange & { changed: string[] };
  data: SetChange;
  resources: FieldChange[];
  other: FieldChange[];
}

type Json = Record<string, unknown>;

export function diffVersions(
  a: { digest: Digest; manifest: ImageManifest; config: Json },
  b: { digest: Digest; manifest: ImageManifest; config: Json },
): VersionDiff {
  const la = a.manifest.layers.map((l) => l.digest);
  const lb = b.manifest.layers.map((l) => l.digest);
  const fa = files(a.config);
  const fb = files(b.config);
  const resA = { ...leaves(a.config['vmSpec'], 'vmSpec'), ...leaves(vector(a.config)['resources'], 'usageVector.resources') };
  const resB = { ...leaves(b.config['vmSpec'], 'vmSpec'), ...leaves(vector(b.config)['resources'], 'usageVector.resources') };
  const known = new Set(['vmSpec', 'plan', 'usageVector', 'vector']);
  const otherA = leaves(Object.fromEntries(Object.entries(a.config).filter(([k]) => !known.has(k))), '');
  const otherB = leaves(Object.fromEntries(Object.entries(b.config).filter(([k]) => !known.has(k))), '');
  return {
    from: a.digest,
    to: b.digest,
    layers: { added: lb.filter((d) => !la.includes(d)), removed: la.filter((d) => !lb.includes(d)), shared: lb.filter((d) => la.includes(d)).length },
    packages: setChange(packages(a.config), packages(b.config)),
    files: { ...setChange(new Set(fa.keys()), new Set(fb.keys())), changed: [...fb.keys()].filter((p) => fa.has(p) && fa.get(p) !== fb.get(p)).sort() },
    data: setChange(data(a.config), data(b.config)),
    resources: fieldChanges(resA, resB),
    other: fieldChanges(otherA, otherB).filter((c) => !/^\.?timings\b/.test(c.path)).slice(0, 100),
  };
}

function vector(config: Json): Json {
  const v = config['usageVector'] ?? config['vector'];
  return v && typeof v === 'object' ? (v as Json) : {};
}

function planEntries(config: Json): Json[] {
  const out: Json[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      out.push(v as Json);
      Object.values(v).forEach(walk);
    }
  };
  walk(config['plan']);
  return out;
}

const kindOf = (e: Json): string => String(e['kind'] ?? e['type'] ?? e['op'] ?? '');

function packages(config: Json): Set<string> {
  const out = new Set<string>();
  for (const e of planEntries(config)) {
    const p = e['packages'];
    if (Array.isArray(p)) for (const x of p) if (typeof x === 'string') out.add(x);
  }
  return out;
}

function files(config: Json): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of planEntries(config)) {
    if (typeof e['path'] === 'string' && /file|config/i.test(kindOf(e))) out.set(e['path'], canonicalJson(e));
  }
  return out;
}

function data(config: Json): Set<string> {
  const out = new Set<string>();
  for (const e of planEntries(config)) {
    if (!/data/i.test(kindOf(e))) continue;
    const id = e['name'] ?? e['dataset'] ?? e['source'] ?? e['path'];
    if (typeof id === 'string') out.add(id);
  }
  const ds = vector(config)['datasets'];
  if (Array.isArray(ds)) for (const d of ds) {
    const id = typeof d === 'string' ? d : d && typeof d === 'object' ? (d as Json)['name'] ?? (d as Json)['id'] : undefined;
    if (typeof id === 'string') out.add(id);
  }
  return out;
}

function leaves(v: unknown, prefix: string, out: Record<string, unknown> = {}): Record<string, unknown> {
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) leaves(x, prefix ? `${prefix}.${k}` : k, out);
  } else if (v !== undefined && prefix) out[prefix] = Array.isArray(v) ? canonicalJson(v) : v;
  return out;
}

function setChange(a: Set<string>, b: Set<string>): SetChange {
  return { added: [...b].filter((x) => !a.has(x)).sort(), removed: [...a].filter((x) => !b.has(x)).sort() };
}

function fieldChanges(a: Record<string, unknown>, b: Record<string, unknown>): FieldChange[] {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return keys
    .filter((k) => a[k] !== b[k])
    .map((k) => ({ path: k, ...(k in a ? { from: a[k] } : {}), ...(k in b ? { to: b[k] } : {}) }));
}
