import { isDigest, type Digest } from '../core/digest.js';
import { ConflictError, NotFoundError, ValidationError } from '../core/errors.js';
import { annotations } from '../contracts/annotations.js';
import type { OciLayout } from './oci-layout.js';
import { entriesOf, setTag, tagOfEntry, tagsOf } from './index-entries.js';
import type { Descriptor, ImageManifest, IndexManifest, ResolvedManifest } from './oci-types.js';
import { assertRepository, assertTag, parseImageRef, versionOfTag } from './reference.js';

/**
 * A repository's history: its versions (manifests with an immutable `v<n>` tag) and the moving
 * tags that name them. Moving a tag is the whole of a rollback; removing drops index entries
 * only (blobs go at the next gc).
 */

export interface VersionInfo {
  repository: string;
  version: number;
  digest: Digest;
  size: number;
  created?: string;
  /** Every tag of the repository that points at this version, version tag included. */
  tags: string[];
  parent?: Digest;
  base?: Digest;
}

/** A moving tag pointed at a manifest; `previous` is what it named before. */
export interface TagMove {
  repository: string;
  tag: string;
  digest: Digest;
  previous?: Digest;
}

/** Where a rollback moved its tag: from the version it named (`from`) to `to`, version `version`. */
export interface RollbackResult {
  repository: string;
  tag: string;
  from?: Digest;
  to: Digest;
  version: number;
}

/** What the history needs of a registry (the Registry class passes itself; no import back to it). */
export interface HistoryRegistry {
  readonly layout: OciLayout;
  manifest(digest: Digest): Promise<ImageManifest | IndexManifest>;
  resolve(repository: string, reference: string): Promise<ResolvedManifest>;
  resolveRef(text: string): Promise<ResolvedManifest>;
  versions(repository: string): Promise<VersionInfo[]>;
  tags(repository: string): Promise<Map<string, Digest>>;
  tag(source: string, tag: string): Promise<TagMove>;
}

export async function versionsOf(registry: HistoryRegistry, repository: string): Promise<VersionInfo[]> {
  assertRepository(repository);
  const index = await registry.layout.readIndex();
  const tags = tagsOf(index, repository);
  const byDigest = new Map<Digest, string[]>();
  for (const [tag, digest] of tags) byDigest.set(digest, [...(byDigest.get(digest) ?? []), tag]);
  const out: VersionInfo[] = [];
  for (const d of entriesOf(index, repository)) {
    const tag = tagOfEntry(d);
    const version = tag === undefined ? undefined : versionOfTag(tag);
    if (version === undefined) continue;
    const manifest = await registry.manifest(d.digest).catch(() => undefined);
    const ann = manifest?.annotations ?? {};
    out.push({
      repository,
      version,
      digest: d.digest,
      size: d.size,
      ...(ann[annotations.created] ? { created: ann[annotations.created] } : {}),
      tags: (byDigest.get(d.digest) ?? []).sort(),
      ...(ann[annotations.parent] ? { parent: ann[annotations.parent] as Digest } : {}),
      ...(ann[annotations.base] ? { base: ann[annotations.base] as Digest } : {}),
    });
  }
  return out.sort((a, b) => a.version - b.version);
}

/** Point a moving tag at a version (or any manifest) of the same repository. */
export async function moveTag(registry: HistoryRegistry, source: string, tag: string): Promise<TagMove> {
  assertTag(tag);
  // Invalid input, not a conflict: no state could make it succeed, so the caller is told what to use instead.
  if (versionOfTag(tag) !== undefined) {
    throw new ValidationError('tag', `${tag} is a version tag, and version tags never move; name a moving tag (e.g. stable), or move latest back with \`prescient images rollback <repository> --to ${tag}\``);
  }
  const target = await registry.resolveRef(source);
  return registry.layout.updateIndex((index) => {
    const previous = tagsOf(index, target.repository).get(tag);
    const d = entriesOf(index, target.repository).find((e) => e.digest === target.digest);
    if (!d) throw new NotFoundError(`${source} disappeared`);
    setTag(index, target.repository, tag, d);
    return { repository: target.repository, tag, digest: target.digest, ...(previous ? { previous } : {}) };
  });
}

/**
 * Move `tag` (latest) back to an earlier version: `to` (a version number, tag or digest), or
 * by default the newest version older than the one the tag names now. Copies nothing.
 */
export async function rollbackTag(
  registry: HistoryRegistry,
  repository: string,
  options: { tag?: string; to?: string | number } = {},
): Promise<RollbackResult> {
  assertRepository(repository);
  const tag = assertTag(options.tag ?? 'latest');
  const versions = await registry.versions(repository);
  if (versions.length === 0) throw new NotFoundError(`${repository} has no versions`);
  const current = (await registry.tags(repository)).get(tag);
  let target: VersionInfo | undefined;
  if (options.to !== undefined) {
    const to = String(options.to);
    const n = /^v?\d+$/.test(to) ? Number(to.replace(/^v/, '')) : undefined;
    target = versions.find((v) => (n !== undefined ? v.version === n : v.digest === to || v.tags.includes(to)));
    if (!target) throw new NotFoundError(`${repository} has no version ${to}`);
  } else {
    const currentVersion = versions.find((v) => v.digest === current)?.version ?? Infinity;
    target = versions.filter((v) => v.version < currentVersion).at(-1);
    if (!target) throw new NotFoundError(`${repository}:${tag} is at its oldest version; nothing to roll back to`);
  }
  const r = await registry.tag(`${repository}@${target.digest}`, tag);
  return { repository, tag, ...(r.previous ? { from: r.previous } : {}), to: target.digest, version: target.version };
}

/**
 * Remove a tag (`repo:latest`), or a version (`repo:v3`, `repo@sha256:…`) with its tags. A
 * version that a moving tag still names is kept unless `force`. Blobs go at the next gc.
 */
export async function removeRef(registry: HistoryRegistry, text: string, options: { force?: boolean } = {}): Promise<{ removed: string[] }> {
  const ref = parseImageRef(text);
  const target = await registry.resolve(ref.repository, ref.reference);
  return registry.layout.updateIndex((index) => {
    const mine = entriesOf(index, ref.repository);
    let drop: Descriptor[];
    if (!isDigest(ref.reference) && versionOfTag(ref.reference) === undefined) {
      drop = mine.filter((d) => tagOfEntry(d) === ref.reference);
    } else {
      drop = mine.filter((d) => d.digest === target.digest);
      const moving = drop.map(tagOfEntry).filter((t): t is string => t !== undefined && versionOfTag(t) === undefined);
      if (moving.length && !options.force) {
        throw new ConflictError(`${text} is still named by ${moving.map((t) => `${ref.repository}:${t}`).join(', ')}; roll those back first or force`);
      }
    }
    index.manifests = index.manifests.filter((d) => !drop.includes(d));
    return { removed: drop.map((d) => (tagOfEntry(d) ? `${ref.repository}:${tagOfEntry(d)}` : `${ref.repository}@${d.digest}`)) };
  });
}
