import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hexOf, isDigest, type Digest } from '../core/digest.js';
import { ValidationError } from '../core/errors.js';
import { annotations } from '../contracts/annotations.js';
import { mediaTypes } from './media-types.js';
import { OciError } from './oci-error.js';
import { OciLayout } from './oci-layout.js';
import { entriesOf, tagOfEntry, tagsOf } from './index-entries.js';
import { exportImageLayout, importImageLayout } from './layout-transfer.js';
import { checkRegistry, cleanLeftovers, garbageCollect, type FsckResult, type GcOptions, type GcResult } from './maintenance.js';
import { isIndexManifest, type Descriptor, type ImageManifest, type IndexManifest, type ResolvedManifest } from './oci-types.js';
import { parseManifest } from './parse-manifest.js';
import { putManifest, type PutManifestResult } from './put-manifest.js';
import { checkoutChain, type Checkout } from './qcow2-chain.js';
import { registerImage, type RegisterInput, type RegisterResult } from './register-image.js';
import { diffVersions, type VersionDiff } from './version-diff.js';
import { moveTag, removeRef, rollbackTag, versionsOf, type RollbackResult, type TagMove, type VersionInfo } from './version-history.js';
import { assertRepository, parseImageRef } from './reference.js';

/**
 * The image registry: client repositories of versioned, content-addressed images in one OCI
 * image layout. index.json is the single source of truth — one descriptor per tag
 * (`org.opencontainers.image.ref.name` = `<repository>:<tag>`, so `skopeo copy oci:<root>:<repository>:<tag>`
 * works) and one per untagged manifest kept on purpose, each carrying `io.prescient.repository`.
 * A version is a manifest with a version tag `v<n>`; version tags never move, other tags
 * (`latest`…) do, so a rollback is one index update that copies nothing.
 */

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

  /** The repository's versions, oldest first (see version-history.ts). */
  versions(repository: string): Promise<VersionInfo[]> {
    return versionsOf(this, repository);
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

  /** A new version from a qcow2 chain and its provenance (see register-image.ts). */
  register(input: RegisterInput): Promise<RegisterResult> {
    return registerImage(this, input);
  }

  /** A manifest received from outside: the push API, a pull (see put-manifest.ts). */
  async putManifest(repository: string, reference: string, bytes: Buffer, contentType?: string, signal?: AbortSignal, options: { versioned?: boolean } = {}): Promise<PutManifestResult> {
    const { manifest, ...stored } = await putManifest(this.layout, { repository, reference, bytes, contentType, signal, versioned: options.versioned });
    this.#manifests.set(stored.digest, manifest);
    return stored;
  }

  /** Point a moving tag at a version (or any manifest) of the same repository. */
  tag(source: string, tag: string): Promise<TagMove> {
    return moveTag(this, source, tag);
  }

  /** Move `tag` (latest) back to an earlier version (see version-history.ts); copies nothing. */
  rollback(repository: string, options: { tag?: string; to?: string | number } = {}): Promise<RollbackResult> {
    return rollbackTag(this, repository, options);
  }

  /** Remove a tag, or a version with its tags (see version-history.ts). Blobs go at the next gc. */
  remove(text: string, options: { force?: boolean } = {}): Promise<{ removed: string[] }> {
    return removeRef(this, text, options);
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

