import { mkdir, stat, utimes, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { canonicalJson } from '../core/canonical-json.js';
import { algorithmOf, digestOf, hexOf, isDigest, sha256Digest, type Digest } from '../core/digest.js';
import { ConflictError, NotFoundError, ValidationError } from '../core/errors.js';
import { annotations } from '../contracts/annotations.js';
import { manifestMediaTypes, mediaTypes } from './media-types.js';
import { OciError } from './oci-error.js';
import { hashFile, OciLayout } from './oci-layout.js';
import { entriesOf, entry, isOf, setTag, tagOfEntry, tagsOf } from './index-entries.js';
import { exportImageLayout, importImageLayout } from './layout-transfer.js';
import { checkRegistry, cleanLeftovers, garbageCollect, type FsckResult, type GcOptions, type GcResult } from './maintenance.js';
import { isIndexManifest, referencesOf, type Descriptor, type ImageManifest, type IndexManifest, type ResolvedManifest } from './oci-types.js';
import { parseManifest } from './parse-manifest.js';
import { SourceCache } from './source-cache.js';
import { checkChainLayer, checkoutChain, storeLayer, type Checkout } from './qcow2-chain.js';
import { diffVersions, type VersionDiff } from './version-diff.js';
import { assertRepository, assertTag, parseImageRef, versionOfTag, versionTag } from './reference.js';

/**
 * The image registry: client repositories of versioned, content-addressed images in one OCI
 * image layout. index.json is the single source of truth — one descriptor per tag
 * (`org.opencontainers.image.ref.name` = `<repository>:<tag>`, so `skopeo copy oci:<root>:<repository>:<tag>`
 * works) and one per untagged manifest kept on purpose, each carrying `io.prescient.repository`.
 * A version is a manifest with a version tag `v<n>`; version tags never move, other tags
 * (`latest`…) do, so a rollback is one index update that copies nothing.
 */

export interface RegisterLayer {
  /** A qcow2 file: the base first, then each module's overlay backed by the one before. */
  path: string;
  mediaType?: string;
}

export interface RegisterInput {
  repository: string;
  layers: readonly RegisterLayer[];
  /** Provenance: usage vector, plan, VM spec, base facts, model, timings (stored as canonical JSON). */
  config: Record<string, unknown>;
  /** Moving tags to point at the new version; `latest` when omitted. The version tag v<n> is always added. */
  tags?: readonly string[];
  /** The version this one was built after; the repository's `latest` when omitted, none with null. */
  parent?: Digest | null;
  /** Extra manifest annotations. */
  annotations?: Record<string, string>;
  signal?: AbortSignal;
  /** Called after each layer is stored (progress). */
  onLayer?: (info: { index: number; digest: Digest; size: number; written: number }) => void;
}

export interface RegisterResult {
  repository: string;
  digest: Digest;
  version: number;
  tags: string[];
  config: { digest: Digest; size: number };
  /** `reused`: already stored; `linked`: stored as a hard link to the file given (the layer cache's). */
  layers: { digest: Digest; size: number; reused: boolean; linked: boolean }[];
  /** Bytes that reached the store (layers, config, manifest); layers already stored or linked cost nothing. */
  bytesWritten: number;
}

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

const configSchema = z.record(z.string(), z.unknown());

export type { FsckProblem, FsckResult, GcOptions, GcResult } from './maintenance.js';
export { parseManifest } from './parse-manifest.js';

export interface RegistryOptions {
  /** The layout folder: paths(home).registry. */
  root: string;
  /**
   * Only to read (`images ls`, `show`, `diff`): creates nothing, cleans nothing, so it works for
   * a user who may not write the home, and a home that does not exist reads as an empty registry.
   */
  readOnly?: boolean;
}

export async function openRegistry(options: RegistryOptions): Promise<Registry> {
  if (options.readOnly) return new Registry(await OciLayout.open(options.root, { readOnly: true }));
  const layout = await OciLayout.open(options.root);
  await mkdir(join(options.root, '.leases'), { recursive: true });
  const registry = new Registry(layout);
  await cleanLeftovers(layout, Infinity); // temporary files of processes that died mid-write
  return registry;
}

export class Registry {
  readonly layout: OciLayout;
  /** Manifests are immutable: parsed ones are kept by digest. */
  readonly #manifests = new Map<Digest, ImageManifest | IndexManifest>();

  constructor(layout: OciLayout) {
    this.layout = layout;
  }

  get root(): string {
    return this.layout.root;
  }

  // ——— reading ———

  async repositories(): Promise<string[]> {
    const index = await this.layout.readIndex();
    return [...new Set(index.manifests.map((d) => d.annotations?.[annotations.repository]).filter((r): r is string => !!r))].sort();
  }

  /** Tag → digest of one repository. */
  async tags(repository: string): Promise<Map<string, Digest>> {
    return tagsOf(await this.layout.readIndex(), repository);
  }

  async versions(repository: string): Promise<VersionInfo[]> {
    assertRepository(repository);
    const index = await this.layout.readIndex();
    const tags = tagsOf(index, repository);
    const byDigest = new Map<Digest, string[]>();
    for (const [tag, digest] of tags) byDigest.set(digest, [...(byDigest.get(digest) ?? []), tag]);
    const out: VersionInfo[] = [];
    for (const d of entriesOf(index, repository)) {
      const tag = tagOfEntry(d);
      const version = tag === undefined ? undefined : versionOfTag(tag);
      if (version === undefined) continue;
      const manifest = await this.manifest(d.digest).catch(() => undefined);
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

  /** A tag or digest of a repository → its manifest; digests must belong to the repository. */
  async resolve(repository: string, reference: string): Promise<ResolvedManifest> {
    assertRepository(repository);
    const index = await this.layout.readIndex();
    const entries = entriesOf(index, repository);
    if (entries.length === 0) throw new OciError('NAME_UNKNOWN', `repository ${repository} is not known`, { repository });
    const found = isDigest(reference)
      ? entries.find((d) => d.digest === reference)
      : entries.find((d) => tagOfEntry(d) === reference);
    if (!found) throw new OciError('MANIFEST_UNKNOWN', `${repository} has no manifest ${reference}`, { repository, reference });
    return { repository, digest: found.digest, mediaType: found.mediaType, size: found.size };
  }

  /** `repo`, `repo:tag`, `repo:v3`, `repo@sha256:…`. */
  resolveRef(text: string): Promise<ResolvedManifest> {
    const ref = parseImageRef(text);
    return this.resolve(ref.repository, ref.reference);
  }

  async manifest(digest: Digest): Promise<ImageManifest | IndexManifest> {
    const cached = this.#manifests.get(digest);
    if (cached) return cached;
    const parsed = parseManifest(await this.layout.readBlob(digest));
    this.#manifests.set(digest, parsed);
    return parsed;
  }

  async imageManifest(digest: Digest): Promise<ImageManifest> {
    const m = await this.manifest(digest);
    if (isIndexManifest(m)) throw new ValidationError('manifest', `${digest} is an index, not an image manifest`);
    return m;
  }

  async config(digest: Digest): Promise<Record<string, unknown>> {
    const m = await this.imageManifest(digest);
    return JSON.parse((await this.layout.readBlob(m.config.digest)).toString('utf8')) as Record<string, unknown>;
  }

  /** What changed from version `a` to version `b` (packages, files, data, resources, layers). */
  async diff(a: string, b: string): Promise<VersionDiff> {
    const load = async (text: string) => {
      const r = await this.resolveRef(text);
      return { digest: r.digest, manifest: await this.imageManifest(r.digest), config: await this.config(r.digest) };
    };
    return diffVersions(await load(a), await load(b));
  }

  /** One version in full: its place in the history, manifest and provenance config. */
  async show(text: string): Promise<{ version?: VersionInfo; digest: Digest; manifest: ImageManifest; config: Record<string, unknown> }> {
    const r = await this.resolveRef(text);
    const version = (await this.versions(r.repository)).find((v) => v.digest === r.digest);
    return { ...(version ? { version } : {}), digest: r.digest, manifest: await this.imageManifest(r.digest), config: await this.config(r.digest) };
  }

  /** Manifests of a repository whose `subject` is `digest` (the referrers API). */
  async referrers(repository: string, digest: Digest, artifactType?: string): Promise<Descriptor[]> {
    const index = await this.layout.readIndex();
    const seen = new Set<Digest>();
    const out: Descriptor[] = [];
    for (const d of entriesOf(index, repository)) {
      if (seen.has(d.digest)) continue;
      seen.add(d.digest);
      const m = await this.manifest(d.digest).catch(() => undefined);
      if (!m || m.subject?.digest !== digest) continue;
      const type = m.artifactType ?? (isIndexManifest(m) ? undefined : m.config.mediaType);
      if (artifactType && type !== artifactType) continue;
      out.push({
        mediaType: m.mediaType ?? d.mediaType,
        digest: d.digest,
        size: d.size,
        ...(type ? { artifactType: type } : {}),
        ...(m.annotations ? { annotations: m.annotations } : {}),
      });
    }
    return out;
  }

  /** Record that a pull is using this manifest, so gc keeps what it references for a while. */
  async lease(digest: Digest): Promise<void> {
    const path = join(this.root, '.leases', hexOf(digest));
    const now = new Date();
    await utimes(path, now, now).catch(() => writeFile(path, ''));
  }

  // ——— writing ———

  async register(input: RegisterInput): Promise<RegisterResult> {
    const { signal } = input;
    const repository = assertRepository(input.repository, 'repository');
    if (input.layers.length === 0) throw new ValidationError('layers', 'at least the base layer is needed');
    const tags = [...(input.tags ?? ['latest'])];
    for (const [i, t] of tags.entries()) {
      assertTag(t, `tags[${i}]`);
      if (versionOfTag(t) !== undefined) throw new ValidationError(`tags[${i}]`, `${t} is a version tag; the registry assigns those`);
    }
    const config = configSchema.parse(input.config);
    for (const [i, l] of input.layers.entries()) {
      if (l.mediaType !== undefined && l.mediaType !== mediaTypes.prescientLayer) {
        throw new ValidationError(`layers[${i}].mediaType`, `only ${mediaTypes.prescientLayer} layers can be registered`);
      }
    }
    let parent: Digest | undefined;
    if (input.parent === undefined) parent = (await this.tags(repository)).get('latest');
    else if (input.parent !== null) parent = (await this.resolve(repository, input.parent)).digest;

    const sources = new SourceCache(join(this.root, '.sources.json'), () => this.layout.tmpPath('.json'));
    await sources.load();
    let bytesWritten = 0;
    const layers: RegisterResult['layers'] = [];
    // qemu-img reads every header first, in parallel: a wrong chain fails before anything is written
    await Promise.all(input.layers.map((l, i) => checkChainLayer(l.path, i, input.layers[i - 1]?.path, signal)));
    let previous: { path: string; digest: Digest } | undefined;
    for (const [i, l] of input.layers.entries()) {
      const key = await sources.key(l.path, previous?.digest);
      let stored = (await this.#cachedLayer(sources.get(key))) ?? (await this.#linkedLayer(l.path));
      if (!stored) {
        // a file not seen under this identity may still be content we stored: reading is cheaper than writing
        const hashed = await hashFile(l.path, signal);
        const contentKey = `content:${hashed.digest}:${previous?.digest ?? '-'}`;
        stored = (await this.#cachedLayer(sources.get(contentKey))) ?? (await storeLayer(this.layout, l.path, previous?.digest, signal, hashed));
        sources.set(key, stored.digest);
        sources.set(contentKey, stored.digest);
      }
      bytesWritten += stored.written;
      const linked = 'linked' in stored && stored.linked === true;
      layers.push({ digest: stored.digest, size: stored.size, reused: stored.written === 0 && !linked, linked });
      input.onLayer?.({ index: i, digest: stored.digest, size: stored.size, written: stored.written });
      previous = { path: l.path, digest: stored.digest };
    }
    await sources.save();

    const configBytes = Buffer.from(canonicalJson(config));
    const configWrite = await this.layout.putBlobBytes(configBytes);
    bytesWritten += configWrite.written;
    const manifest = {
      schemaVersion: 2,
      mediaType: mediaTypes.ociManifest,
      artifactType: mediaTypes.prescientImage,
      config: { mediaType: mediaTypes.prescientConfig, digest: configWrite.digest, size: configWrite.size },
      layers: layers.map((l) => ({ mediaType: mediaTypes.prescientLayer, digest: l.digest, size: l.size })),
      // The registry's own keys win, so a caller cannot forge lineage; callers have keys of their own.
      annotations: {
        ...input.annotations,
        [annotations.created]: new Date().toISOString(),
        [annotations.base]: layers[0]!.digest,
        ...(parent ? { [annotations.parent]: parent } : {}),
      },
    };
    const bytes = Buffer.from(JSON.stringify(manifest));
    const mw = await this.layout.putBlobBytes(bytes);
    bytesWritten += mw.written;
    const stillStored = async (): Promise<void> => {
      for (const d of [configWrite.digest, ...layers.map((l) => l.digest)]) {
        if ((await this.layout.blobSize(d)) === undefined) throw new ConflictError(`blob ${d} was garbage-collected during the registration; register again`);
      }
    };
    const descriptor = { mediaType: mediaTypes.ociManifest, digest: mw.digest, size: mw.size, artifactType: mediaTypes.prescientImage };
    const { version } = await this.#record(repository, descriptor, tags, true, signal, undefined, stillStored);
    return { repository, digest: mw.digest, version, tags: [versionTag(version), ...tags], config: { digest: configWrite.digest, size: configWrite.size }, layers, bytesWritten };
  }

  /**
   * A layer file named by its digest that is the very inode of the stored blob (a hard link from
   * the layer cache): the same bytes by construction, so it needs neither hashing nor copying —
   * even after the registry's own touches changed its time.
   */
  async #linkedLayer(path: string): Promise<{ digest: Digest; size: number; written: number } | undefined> {
    const name = basename(path);
    if (!/^[a-f0-9]{64}$/.test(name)) return undefined;
    const digest: Digest = `sha256:${name}`;
    const [a, b] = await Promise.all([stat(path).catch(() => undefined), stat(this.layout.blobPath(digest)).catch(() => undefined)]);
    if (!a || !b || a.ino !== b.ino || a.dev !== b.dev) return undefined;
    return this.#cachedLayer(digest);
  }

  async #cachedLayer(digest: Digest | undefined): Promise<{ digest: Digest; size: number; written: number } | undefined> {
    if (!digest) return undefined;
    const size = await this.layout.blobSize(digest);
    if (size === undefined) return undefined;
    const now = new Date();
    await utimes(this.layout.blobPath(digest), now, now); // inside gc's grace period from now on
    return { digest, size, written: 0 };
  }

  /**
   * Store a manifest received from outside (the push API, a pull): validate it, check every blob
   * and child manifest it references is stored, then record it under a tag or by digest. A
   * manifest pushed by tag that is not yet a version of the repository becomes the next version,
   * unless `versioned` is false: what OCI clients push through the distribution API keeps
   * exactly the tags they pushed (no `v<n>` of ours in their tags/list); a `v3` they push is
   * their tag, not a version number.
   */
  async putManifest(repository: string, reference: string, bytes: Buffer, contentType?: string, signal?: AbortSignal, options: { versioned?: boolean } = {}): Promise<{ digest: Digest; version?: number; subject?: Digest }> {
    const versioned = options.versioned !== false;
    assertRepository(repository);
    const parsed = parseManifest(bytes);
    const mediaType = parsed.mediaType ?? contentType?.split(';')[0]?.trim();
    if (!mediaType || !manifestMediaTypes.includes(mediaType)) {
      throw new OciError('MANIFEST_INVALID', `manifest media type ${JSON.stringify(mediaType)} is not one of ${manifestMediaTypes.join(', ')}`);
    }
    if (parsed.mediaType && contentType && contentType.split(';')[0]!.trim() !== parsed.mediaType && contentType !== 'application/octet-stream') {
      throw new OciError('MANIFEST_INVALID', `Content-Type ${contentType} differs from the manifest's mediaType ${parsed.mediaType}`);
    }
    const isIndex = isIndexManifest(parsed);
    if (isIndex !== (mediaType === mediaTypes.ociIndex || mediaType === mediaTypes.dockerManifestList)) {
      throw new OciError('MANIFEST_INVALID', `the manifest's shape does not match its media type ${mediaType}`);
    }
    // Pushed by digest, the manifest is stored (and verified) under that digest's algorithm.
    const digest = isDigest(reference) ? digestOf(bytes, algorithmOf(reference)) : sha256Digest(bytes);
    if (isDigest(reference) && reference !== digest) {
      throw new OciError('DIGEST_INVALID', `manifest has digest ${digest}, the reference says ${reference}`, { declared: reference, actual: digest });
    }
    if (!isDigest(reference)) assertTag(reference, 'reference');
    const referenced = referencesOf(parsed);
    const missing: string[] = [];
    for (const d of referenced) {
      if (d.urls?.length) continue; // foreign layers live elsewhere by design
      const size = await this.layout.blobSize(d.digest);
      if (size === undefined) missing.push(d.digest);
      else if (size !== d.size) throw new OciError('SIZE_INVALID', `${d.digest} is ${size} bytes, the manifest says ${d.size}`, { digest: d.digest });
    }
    if (missing.length) throw new OciError('MANIFEST_BLOB_UNKNOWN', `the manifest references blobs that are not stored: ${missing.join(', ')}`, { missing });
    const w = await this.layout.putBlobBytes(bytes, { digest });
    this.#manifests.set(digest, parsed);
    const descriptor: Descriptor = {
      mediaType,
      digest: w.digest,
      size: w.size,
      ...(parsed.artifactType ? { artifactType: parsed.artifactType } : {}),
    };
    // checked again under the index lock, which gc also holds: a blob cannot vanish in between
    const stillStored = async (): Promise<void> => {
      for (const d of referenced) {
        if (!d.urls?.length && (await this.layout.blobSize(d.digest)) === undefined) {
          throw new OciError('MANIFEST_BLOB_UNKNOWN', `blob ${d.digest} was removed while the manifest was pushed`, { missing: [d.digest] });
        }
      }
    };
    if (isDigest(reference)) {
      await this.layout.updateIndex(async (index) => {
        await stillStored();
        if (!entriesOf(index, repository).some((d) => d.digest === digest)) {
          index.manifests.push(entry(descriptor, repository, { [annotations.retained]: 'true' }));
        }
      }, signal);
      return { digest, ...(parsed.subject ? { subject: parsed.subject.digest } : {}) };
    }
    if (!versioned) {
      await this.layout.updateIndex(async (index) => {
        await stillStored();
        setTag(index, repository, reference, descriptor);
      }, signal);
      return { digest, ...(parsed.subject ? { subject: parsed.subject.digest } : {}) };
    }
    const versionNumber = versionOfTag(reference);
    const { version } = await this.#record(repository, descriptor, versionNumber === undefined ? [reference] : [], versionNumber === undefined, signal, versionNumber, stillStored);
    return { digest, ...(version !== undefined ? { version } : {}), ...(parsed.subject ? { subject: parsed.subject.digest } : {}) };
  }

  /**
   * One index update: point `tags` at the manifest and, unless it is already a version of the
   * repository, give it the next version number (or `explicitVersion`, when a v<n> tag is pushed).
   */
  async #record(
    repository: string,
    descriptor: Descriptor,
    tags: readonly string[],
    newVersion: boolean,
    signal?: AbortSignal,
    explicitVersion?: number,
    verify?: () => Promise<void>,
  ): Promise<{ version: number }> {
    return this.layout.updateIndex(async (index) => {
      await verify?.();
      const entries = entriesOf(index, repository);
      let version = entries.map((d) => ({ d, v: versionOfTag(tagOfEntry(d) ?? '') })).find((x) => x.v !== undefined && x.d.digest === descriptor.digest)?.v;
      if (explicitVersion !== undefined) {
        const holder = entries.find((d) => tagOfEntry(d) === versionTag(explicitVersion));
        if (holder && holder.digest !== descriptor.digest) {
          throw new OciError('DENIED', `${repository}:${versionTag(explicitVersion)} is a version tag and already names ${holder.digest}; versions are immutable`);
        }
        version = explicitVersion;
        if (!holder) index.manifests.push(entry(descriptor, repository, { [annotations.refName]: `${repository}:${versionTag(version)}` }));
      } else if (version === undefined && newVersion) {
        version = 1 + Math.max(0, ...entries.map((d) => versionOfTag(tagOfEntry(d) ?? '') ?? 0));
        index.manifests.push(entry(descriptor, repository, { [annotations.refName]: `${repository}:${versionTag(version)}` }));
      }
      for (const tag of tags) setTag(index, repository, tag, descriptor);
      // an untagged copy kept by digest is no longer needed once a tag holds the manifest
      index.manifests = index.manifests.filter((d) => !(isOf(d, repository) && d.digest === descriptor.digest && d.annotations?.[annotations.retained] && (tags.length || version !== undefined)));
      return { version: version ?? 0 };
    }, signal);
  }

  /** Point a moving tag at a version (or any manifest) of the same repository. */
  async tag(source: string, tag: string): Promise<{ repository: string; tag: string; digest: Digest; previous?: Digest }> {
    assertTag(tag);
    if (versionOfTag(tag) !== undefined) throw new ConflictError(`${tag} is a version tag; version tags never move`);
    const target = await this.resolveRef(source);
    return this.layout.updateIndex((index) => {
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
  async rollback(repository: string, options: { tag?: string; to?: string | number } = {}): Promise<{ repository: string; tag: string; from?: Digest; to: Digest; version: number }> {
    assertRepository(repository);
    const tag = assertTag(options.tag ?? 'latest');
    const versions = await this.versions(repository);
    if (versions.length === 0) throw new NotFoundError(`${repository} has no versions`);
    const current = (await this.tags(repository)).get(tag);
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
    const r = await this.tag(`${repository}@${target.digest}`, tag);
    return { repository, tag, ...(r.previous ? { from: r.previous } : {}), to: target.digest, version: target.version };
  }

  /**
   * Remove a tag (`repo:latest`), or a version (`repo:v3`, `repo@sha256:…`) with its tags. A
   * version that a moving tag still names is kept unless `force`. Blobs go at the next gc.
   */
  async remove(text: string, options: { force?: boolean } = {}): Promise<{ removed: string[] }> {
    const ref = parseImageRef(text);
    const target = await this.resolve(ref.repository, ref.reference);
    return this.layout.updateIndex((index) => {
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

  /** Remove a tag or a digest through the API (DELETE /v2/<name>/manifests/<reference>). */
  async deleteManifest(repository: string, reference: string): Promise<void> {
    await this.resolve(repository, reference);
    await this.remove(isDigest(reference) ? `${repository}@${reference}` : `${repository}:${reference}`, { force: true });
  }

  /** See garbageCollect in maintenance.ts. */
  gc(options: GcOptions = {}): Promise<GcResult> {
    return garbageCollect(this, options);
  }

  /** See checkRegistry in maintenance.ts. */
  fsck(options: { repair?: boolean; signal?: AbortSignal } = {}): Promise<FsckResult> {
    return checkRegistry(this, options);
  }

  /** One image as a standalone OCI layout (see layout-transfer.ts). */
  exportLayout(text: string, dir: string, refName: string): Promise<ResolvedManifest> {
    return exportImageLayout(this, text, dir, refName);
  }

  /** One image from a foreign OCI layout, blobs re-verified (see layout-transfer.ts). */
  importLayout(dir: string, refName: string | undefined, repository: string, tag: string, signal?: AbortSignal): Promise<{ digest: Digest; version?: number }> {
    return importImageLayout(this, dir, refName, repository, tag, signal);
  }

  /** Materialise a version's qcow2 chain in `dir`; open `top`. The pull is leased against gc. */
  async checkout(text: string, dir: string, signal?: AbortSignal): Promise<Checkout & { digest: Digest; repository: string }> {
    const target = await this.resolveRef(text);
    await this.lease(target.digest);
    const m = await this.imageManifest(target.digest);
    const foreign = m.layers.find((l) => l.mediaType !== mediaTypes.prescientLayer);
    if (foreign) throw new ValidationError('reference', `${text} is not a Prescient image (layer media type ${foreign.mediaType})`);
    const chain = await checkoutChain(this.layout, m.layers.map((l) => l.digest), dir, signal);
    return { ...chain, digest: target.digest, repository: target.repository };
  }
}

