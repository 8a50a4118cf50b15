import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { algorithmOf, type Digest } from '../core/digest.js';
import { isProcessAlive } from '../core/file-lock.js';
import { annotations } from '../contracts/annotations.js';
import { manifestMediaTypes } from './media-types.js';
import { hashFile, type OciLayout } from './oci-layout.js';
import { isIndexManifest, referencesOf, type Descriptor, type ImageManifest, type IndexManifest, type LayoutIndex } from './oci-types.js';
import { parseManifest } from './parse-manifest.js';
import { tagOfEntry } from './index-entries.js';

/** What maintenance needs of a registry (the Registry class passes itself; no import back to it). */
export interface MaintainedRegistry {
  readonly layout: OciLayout;
  readonly root: string;
  manifest(digest: Digest): Promise<ImageManifest | IndexManifest>;
}

export interface GcOptions {
  /** Unreferenced blobs younger than this are kept: uploads and registrations in progress. */
  graceMs?: number;
  /** A manifest read (pull, checkout) in the last leaseMs keeps everything it references. */
  leaseMs?: number;
  dryRun?: boolean;
}

export interface GcResult {
  removed: { digest: Digest; size: number; freed: number }[];
  bytesFreed: number;
  kept: number;
  dryRun: boolean;
}

export interface FsckProblem {
  kind: 'digest-mismatch' | 'missing-blob' | 'bad-manifest' | 'bad-index' | 'leftover';
  digest?: string;
  path?: string;
  message: string;
}

export interface FsckResult {
  ok: boolean;
  blobsChecked: number;
  manifestsChecked: number;
  problems: FsckProblem[];
  repaired: number;
}

const defaultGraceMs = 60 * 60 * 1000;
const defaultLeaseMs = 15 * 60 * 1000;


/**
 * Remove blobs that nothing keeps: roots are every index.json descriptor (tags, versions,
 * retained manifests) and every manifest leased by a pull in progress; a manifest keeps its
 * config, layers and child manifests. Young blobs (grace period) are kept, so an upload or a
 * registration that has written blobs but not yet its manifest is never cut short.
 */
export async function garbageCollect(registry: MaintainedRegistry, options: GcOptions = {}): Promise<GcResult> {
  const graceMs = options.graceMs ?? defaultGraceMs;
  const leaseMs = options.leaseMs ?? defaultLeaseMs;
  return registry.layout.withLock(async () => {
    const now = Date.now();
    const index = await registry.layout.readIndex();
    const roots = new Set<Digest>(index.manifests.map((d) => d.digest));
    for (const name of await readdir(join(registry.root, '.leases'))) {
      const path = join(registry.root, '.leases', name);
      const st = await stat(path).catch(() => undefined);
      if (!st) continue;
      // A lease is named by the manifest's hex; its length tells the algorithm.
      if (now - st.mtimeMs < leaseMs) roots.add(`${name.length === 128 ? 'sha512' : 'sha256'}:${name}` as Digest);
      else if (!options.dryRun) await rm(path, { force: true });
    }
    const marked = new Set<Digest>();
    const mark = async (digest: Digest): Promise<void> => {
      if (marked.has(digest)) return;
      marked.add(digest);
      const m = await registry.manifest(digest).catch(() => undefined);
      if (!m) return;
      if (isIndexManifest(m)) for (const c of m.manifests) await mark(c.digest);
      else for (const d of referencesOf(m)) marked.add(d.digest);
    };
    for (const r of roots) await mark(r);
    const removed: GcResult['removed'] = [];
    for (const digest of await registry.layout.listBlobs()) {
      if (marked.has(digest)) continue;
      const st = await stat(registry.layout.blobPath(digest)).catch(() => undefined);
      if (!st || now - st.mtimeMs < graceMs) continue;
      if (!options.dryRun) {
        await registry.layout.removeBlob(digest);
      }
      // a blob the layer cache also names (a hard link) keeps its bytes there: nothing is freed
      removed.push({ digest, size: st.size, freed: st.nlink > 1 ? 0 : st.blocks * 512 });
    }
    if (!options.dryRun) await cleanLeftovers(registry.layout, graceMs);
    return { removed, bytesFreed: removed.reduce((s, r) => s + r.freed, 0), kept: marked.size, dryRun: !!options.dryRun };
  });
}

/** Temporary files of dead processes (a crash mid-write) are leftovers. */
async function leftovers(layout: OciLayout, olderThanMs = 0): Promise<string[]> {
  const out: string[] = [];
  for (const dir of [layout.tmpDir]) {
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const pid = Number(name.split('-')[0]);
      const st = await stat(join(dir, name)).catch(() => undefined);
      if (!st) continue;
      if ((pid && !isProcessAlive(pid)) || Date.now() - st.mtimeMs > Math.max(olderThanMs, 24 * 3600 * 1000)) out.push(join(dir, name));
    }
  }
  return out;
}

export async function cleanLeftovers(layout: OciLayout, olderThanMs: number): Promise<number> {
  const files = await leftovers(layout, olderThanMs);
  for (const f of files) await rm(f, { force: true, recursive: true });
  // upload sessions nobody finished within a day
  const uploads = join(layout.root, '.uploads');
  for (const name of await readdir(uploads).catch(() => [] as string[])) {
    const st = await stat(join(uploads, name)).catch(() => undefined);
    if (st && Date.now() - st.mtimeMs > 24 * 3600 * 1000) await rm(join(uploads, name), { force: true });
  }
  return files.length;
}


/**
 * Verify every blob's digest and every reference: index.json → manifests → config, layers,
 * child manifests. `repair` only removes leftovers of crashed writes, never stored data.
 */
export async function checkRegistry(registry: MaintainedRegistry, options: { repair?: boolean; signal?: AbortSignal } = {}): Promise<FsckResult> {
  const problems: FsckProblem[] = [];
  const blobs = await registry.layout.listBlobs();
  for (const digest of blobs) {
    const { digest: actual } = await hashFile(registry.layout.blobPath(digest), options.signal, algorithmOf(digest));
    if (actual !== digest) problems.push({ kind: 'digest-mismatch', digest, message: `content hashes to ${actual}` });
  }
  let index: LayoutIndex | undefined;
  try {
    index = await registry.layout.readIndex();
  } catch (e) {
    problems.push({ kind: 'bad-index', message: (e as Error).message });
  }
  const present = new Set(blobs);
  const checked = new Set<Digest>();
  const check = async (d: Descriptor, from: string): Promise<void> => {
    if (!present.has(d.digest)) {
      problems.push({ kind: 'missing-blob', digest: d.digest, message: `referenced by ${from} but not stored` });
      return;
    }
    const size = await registry.layout.blobSize(d.digest);
    if (size !== d.size) problems.push({ kind: 'bad-manifest', digest: d.digest, message: `${from} says ${d.size} bytes, the blob has ${size}` });
    if (!manifestMediaTypes.includes(d.mediaType) || checked.has(d.digest)) return;
    checked.add(d.digest);
    let m: ImageManifest | IndexManifest;
    try {
      m = parseManifest(await registry.layout.readBlob(d.digest));
    } catch (e) {
      problems.push({ kind: 'bad-manifest', digest: d.digest, message: (e as Error).message });
      return;
    }
    for (const c of referencesOf(m)) if (!c.urls?.length) await check(c, `manifest ${d.digest}`);
  };
  for (const d of index?.manifests ?? []) {
    const repo = d.annotations?.[annotations.repository];
    const tag = tagOfEntry(d);
    await check(d, `index.json (${repo ?? '?'}${tag ? `:${tag}` : ''})`);
  }
  const found = await leftovers(registry.layout);
  for (const path of found) problems.push({ kind: 'leftover', path, message: 'temporary file of an interrupted write' });
  let repaired = 0;
  if (options.repair) repaired = await cleanLeftovers(registry.layout, 0);
  // leftovers of a crashed write are harmless (never visible, removed at the next open)
  return { ok: problems.every((p) => p.kind === 'leftover'), blobsChecked: blobs.length, manifestsChecked: checked.size, problems, repaired };
}
