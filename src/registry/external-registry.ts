import { chmod, copyFile, link, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { annotations } from '../contracts/annotations.js';
import { canonicalJson } from '../core/canonical-json.js';
import { isDigest, sha256Digest, sha256File, type Digest } from '../core/digest.js';
import { ConflictError, ExternalToolError, ValidationError } from '../core/errors.js';
import { run } from '../core/exec.js';
import type { LayerCache, LayerRecord, RemoteLayerSource } from '../pipeline/layer-cache.js';
import { mediaTypes } from './media-types.js';
import { OciLayout } from './oci-layout.js';
import { isIndexManifest, type ImageManifest } from './oci-types.js';
import { parseManifest } from './parse-manifest.js';
import type { OciRegistryConfig, RegistryConfig } from './registry-config.js';
import type { Registry } from './registry.js';
import { pullImage, pushImage, skopeoAuthArgs, type RemoteOptions } from './remote.js';
import { versionOfTag, versionTag } from './reference.js';

/** The repository of the external registry that holds one small manifest per built layer, tagged by layer key. */
export const layersRepository = 'prescient/layers';
/** A layer record's config blob there: the cache record without host paths. */
export const layerRecordMediaType = 'application/vnd.prescient.layer-record.v1+json';
export const layerArtifactType = 'application/vnd.prescient.layer.v1+json';
/** The repository of base images there, tagged `<name>-<key>`: a worker without the base fetches it. */
export const basesRepository = 'prescient/bases';
/** A base's config blob there: its record (`bases/<name>-<key>.json`: facts, recipe). */
export const baseRecordMediaType = 'application/vnd.prescient.base-record.v1+json';
export const baseArtifactType = 'application/vnd.prescient.base.v1+json';
const tagPattern = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

const layerRecordSchema = z.strictObject({
  key: z.string().regex(/^[0-9a-f]{64}$/),
  parent: z.string(),
  parentDigest: z.string().refine(isDigest),
  module: z.string(),
  moduleVersion: z.number().int(),
  changes: z.array(z.unknown()),
  digest: z.string().refine(isDigest),
  createdAt: z.string(),
  buildMs: z.number(),
});

/**
 * How Prescient authenticates to the external registry: a credential the registry's token realm
 * (serve's /v1/token) accepts, `username:secret` (a worker on another machine: the admin's), or
 * tokens minted here (the home whose certificate the registry trusts).
 */
export type ExternalAuth = { creds: string } | { token: (access: { repository: string; actions: ('pull' | 'push')[] }[]) => string };

const notThere = /manifest unknown|name unknown|not known to registry|MANIFEST_UNKNOWN|NAME_UNKNOWN|not found/i;

/**
 * An external OCI distribution registry (docker-registry, Harbor, zot…) shared by the API server
 * and the build workers. Versions are pushed there after they are registered here; every layer
 * built is published as `prescient/layers:<layer key>` (a manifest of that one qcow2 blob whose
 * config is the layer's record), so a home that lacks a layer fetches it instead of building it
 * (`RemoteLayerSource`), and its local layer cache becomes a cache of the registry. All transfers
 * are skopeo's, which verifies every digest.
 */
export class ExternalRegistry implements RemoteLayerSource {
  /** `host[:port]`: what skopeo's docker:// references start with. */
  readonly address: string;
  /** Plain HTTP (an http:// URL) or unverified TLS (`insecure`): skopeo's --tls-verify=false. */
  readonly #insecure: boolean;
  readonly #published = new Set<string>();
  /** `repository@digest` → its version number there (versionOf). */
  readonly #versions = new Map<string, number>();

  constructor(
    private readonly o: { config: OciRegistryConfig; local: Registry; auth?: ExternalAuth },
  ) {
    const url = new URL(o.config.url);
    this.address = url.host;
    this.#insecure = o.config.insecure === true || url.protocol === 'http:';
  }

  get config(): OciRegistryConfig {
    return this.o.config;
  }

  private options(repository: string, actions: ('pull' | 'push')[], signal?: AbortSignal): RemoteOptions {
    const auth = this.o.auth;
    return {
      ...(this.#insecure ? { insecure: true } : {}),
      ...(auth && 'creds' in auth ? { creds: auth.creds } : {}),
      // pull on the shared repositories too: a push can then mount their blobs instead of uploading them again
      ...(auth && 'token' in auth ? { registryToken: auth.token([{ repository, actions }, ...[layersRepository, basesRepository].filter((r) => r !== repository).map((r) => ({ repository: r, actions: ['pull' as const] }))]) } : {}),
      ...(signal ? { signal } : {}),
    };
  }

  /** `repository:tag`, or `repository@digest` for a digest. */
  private ref(repository: string, tag: string): string {
    return `docker://${this.address}/${repository}${isDigest(tag) ? '@' : ':'}${tag}`;
  }

  /** The digest of `repository:tag` (or whether `repository@digest` is) there, undefined when it has none. */
  async digestOf(repository: string, tag: string, signal?: AbortSignal): Promise<Digest | undefined> {
    const raw = await this.#rawManifest(repository, tag, signal);
    return raw === undefined ? undefined : sha256Digest(raw);
  }

  async #rawManifest(repository: string, tag: string, signal?: AbortSignal): Promise<Buffer | undefined> {
    const work = await mkdtemp(join(this.o.local.layout.tmpDir, `${process.pid}-inspect-`));
    try {
      const ref = this.ref(repository, tag);
      const args = ['inspect', '--raw', ...(await skopeoAuthArgs('inspect', ref, this.options(repository, ['pull'], signal), work)), ref];
      return Buffer.from((await run('skopeo', args, { timeoutMs: 120_000, ...(signal ? { signal } : {}) })).stdout);
    } catch (e) {
      if (e instanceof ExternalToolError && notThere.test(e.stderr)) return undefined;
      throw e;
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  /**
   * Push a registered version there under its version tag, then `tags` (moving ones, e.g. latest),
   * and say what the shared registry now holds for it. A version tag never moves: when another
   * home already holds `v<n>` there (its push may have died between `v<n>` and `latest`, or it
   * built the same number at the same time), the registry's version is the truth —
   * - built for the same plan on the same base: it is adopted (pulled here as `latest`, `tags`
   *   moved to it there). It answers the same requests, and pushing ours under a new number would
   *   make two versions of one image;
   * - another image: ours becomes the next free version there, never an overwrite of theirs.
   * Either way the next build finds nothing left to push, so a cut push never blocks a client.
   * The distribution API has no conditional tag write: two homes taking the same free number in
   * the same instant remains possible; the check after the push makes the loser try the next one.
   */
  async pushVersion(input: { repository: string; digest: Digest; version: number; tags: readonly string[]; signal?: AbortSignal }): Promise<{ digest: Digest; version: number; adopted: boolean }> {
    const { repository, signal } = input;
    const opts = this.options(repository, ['pull', 'push'], signal);
    let version = input.version;
    for (let attempt = 0; attempt < 8; attempt++) {
      const vTag = versionTag(version);
      const there = await this.digestOf(repository, vTag, signal);
      if (there !== undefined && there !== input.digest) {
        const same = await this.#samePlan(repository, vTag, input.digest, signal);
        if (same) return this.#adopt(input, version, there, same);
        // ours may be a version there already (pushed under another number before): that one it stays
        version = (await this.versionOf(repository, input.digest, undefined, signal)) ?? 1 + Math.max(version, ...(await this.#versionsThere(repository, signal)));
        continue;
      }
      if (there === undefined) {
        await pushImage(this.o.local, `${repository}@${input.digest}`, `${this.address}/${repository}:${vTag}`, opts);
        if ((await this.digestOf(repository, vTag, signal)) !== input.digest) continue;
      }
      for (const tag of input.tags.filter((t) => t !== vTag)) await pushImage(this.o.local, `${repository}@${input.digest}`, `${this.address}/${repository}:${tag}`, opts);
      this.#versions.set(`${repository}@${input.digest}`, version);
      return { digest: input.digest, version, adopted: false };
    }
    throw new ConflictError(`${this.address}/${repository}: no free version for ${input.digest} after 8 tries, other homes kept taking them`, { repository, version });
  }

  /** `repository:vTag` there when it was built for the same plan on the same base as `digest` here. */
  async #samePlan(repository: string, vTag: string, digest: Digest, signal?: AbortSignal): Promise<ImageManifest | undefined> {
    const raw = await this.#rawManifest(repository, vTag, signal);
    const theirs = raw === undefined ? undefined : parseManifest(raw);
    if (theirs === undefined || isIndexManifest(theirs)) return undefined;
    const ours = (await this.o.local.imageManifest(digest)).annotations ?? {};
    const plan = ours[annotations.planDigest];
    const base = ours[annotations.baseKey];
    return plan !== undefined && base !== undefined && theirs.annotations?.[annotations.planDigest] === plan && theirs.annotations?.[annotations.baseKey] === base ? theirs : undefined;
  }

  /** Bring `v<version>` there (`there`, its manifest `m`) here as `latest` and move `tags` there to it. */
  async #adopt(input: { repository: string; tags: readonly string[]; signal?: AbortSignal }, version: number, there: Digest, m: ImageManifest): Promise<{ digest: Digest; version: number; adopted: true }> {
    const { repository, signal } = input;
    const vTag = versionTag(version);
    const reuse = [m.config.digest, ...m.layers.map((l) => l.digest)];
    // by digest: what was compared is what is adopted, whatever the tag names by now
    const pulled = await pullImage(this.o.local, `${this.address}/${repository}@${there}`, repository, 'latest', { ...this.options(repository, ['pull'], signal), reuse });
    if (pulled.digest !== there) throw new ConflictError(`${this.address}/${repository}:${vTag} changed while it was adopted`, { repository, version });
    const opts = this.options(repository, ['pull', 'push'], signal);
    for (const tag of input.tags.filter((t) => t !== vTag)) await pushImage(this.o.local, `${repository}@${there}`, `${this.address}/${repository}:${tag}`, opts);
    this.#versions.set(`${repository}@${there}`, version);
    return { digest: there, version, adopted: true };
  }

  /**
   * The version `repository@digest` is there, undefined when it is none; `guess` (the number it
   * has here) is tried first. Remembered: a version tag never moves, so the answer never changes.
   */
  async versionOf(repository: string, digest: Digest, guess?: number, signal?: AbortSignal): Promise<number | undefined> {
    const key = `${repository}@${digest}`;
    const known = this.#versions.get(key);
    if (known !== undefined) return known;
    let found: number | undefined;
    if (guess !== undefined && (await this.digestOf(repository, versionTag(guess), signal)) === digest) found = guess;
    else if ((await this.digestOf(repository, digest, signal)) !== undefined) {
      for (const v of (await this.#versionsThere(repository, signal)).sort((x, y) => y - x)) {
        if ((await this.digestOf(repository, versionTag(v), signal)) === digest) { found = v; break; }
      }
    }
    if (found !== undefined) this.#versions.set(key, found);
    return found;
  }

  /** The version numbers `repository` has there (its v<n> tags). */
  async #versionsThere(repository: string, signal?: AbortSignal): Promise<number[]> {
    const work = await mkdtemp(join(this.o.local.layout.tmpDir, `${process.pid}-list-tags-`));
    try {
      const ref = `docker://${this.address}/${repository}`;
      const args = ['list-tags', ...(await skopeoAuthArgs('inspect', ref, this.options(repository, ['pull'], signal), work)), ref];
      const listed = JSON.parse((await run('skopeo', args, { timeoutMs: 120_000, ...(signal ? { signal } : {}) })).stdout) as { Tags?: unknown };
      return (Array.isArray(listed.Tags) ? listed.Tags : []).flatMap((t) => (typeof t === 'string' && versionOfTag(t) !== undefined ? [versionOfTag(t)!] : []));
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  /**
   * Roll back here and there: the local registry's rollback, then the same tag moved there, so
   * the next `syncLatest` (of this home or another) does not bring the newer version back.
   */
  async rollback(repository: string, options: { tag?: string; to?: string | number; signal?: AbortSignal } = {}): Promise<Awaited<ReturnType<Registry['rollback']>>> {
    const { signal, ...local } = options;
    const r = await this.o.local.rollback(repository, local);
    await pushImage(this.o.local, `${repository}@${r.to}`, `${this.address}/${repository}:${r.tag}`, this.options(repository, ['pull', 'push'], signal));
    return r;
  }

  /**
   * Bring the repository's `latest` there into the local registry when it is not here yet, so a
   * version built here follows the shared history (its parent and number) and a prebuilt image
   * another home registered answers here too. Returns the digest of `latest` there, if any.
   */
  async syncLatest(repository: string, signal?: AbortSignal): Promise<Digest | undefined> {
    const raw = await this.#rawManifest(repository, 'latest', signal);
    if (raw === undefined) return undefined;
    const there = sha256Digest(raw);
    const here = await this.o.local.tags(repository).then((t) => t.get('latest'), () => undefined);
    if (here === there) return there;
    // the blobs already here (the base, shared layers) are not downloaded again
    const m = parseManifest(raw);
    const reuse = isIndexManifest(m) ? [] : [m.config.digest, ...m.layers.map((l) => l.digest)];
    await pullImage(this.o.local, `${this.address}/${repository}:latest`, repository, 'latest', { ...this.options(repository, ['pull'], signal), reuse });
    return there;
  }

  /** Publish the layers of `keys` (from `cache`) that the registry does not have yet. */
  async publishLayers(input: { keys: readonly string[]; cache: LayerCache; signal?: AbortSignal }): Promise<{ published: string[] }> {
    const published: string[] = [];
    for (const key of input.keys) {
      if (this.#published.has(key)) continue;
      const record = await input.cache.get(key);
      // the old cache layout (absolute backing names) is never shared: a layer must name its parent by digest
      const parentHex = record ? basename(record.parentPath) : '';
      if (!record?.digest || !/^[0-9a-f]{64}$/.test(parentHex)) continue;
      if ((await this.digestOf(layersRepository, key, input.signal)) === undefined) {
        await this.#pushLayer(record as LayerRecord & { digest: Digest }, `sha256:${parentHex}` as Digest, input.signal);
        published.push(key);
      }
      this.#published.add(key);
    }
    return { published };
  }

  async #pushLayer(record: LayerRecord & { digest: Digest }, parentDigest: Digest, signal?: AbortSignal): Promise<void> {
    const { key, parent, module, moduleVersion, changes, digest, createdAt, buildMs } = record;
    const config = Buffer.from(canonicalJson({ key, parent, parentDigest, module, moduleVersion, changes, digest, createdAt, buildMs }));
    await this.#pushArtifact({ repository: layersRepository, tag: key, file: record.path, digest, config, configMediaType: layerRecordMediaType, artifactType: layerArtifactType, ...(signal ? { signal } : {}) });
  }

  /** Publish a base image (its qcow2 and its record) as `prescient/bases:<name>-<key>`, unless it is there. */
  async publishBase(base: { name: string; key: string; path: string }, signal?: AbortSignal): Promise<boolean> {
    const tag = `${base.name}-${base.key}`;
    if (!tagPattern.test(tag) || this.#published.has(`base:${tag}`)) return false;
    if ((await this.digestOf(basesRepository, tag, signal)) !== undefined) {
      this.#published.add(`base:${tag}`);
      return false;
    }
    // Another home's operators read this record: it names the image by its file name, not by this home's path.
    const record = JSON.parse(await readFile(base.path.replace(/\.qcow2$/, '.json'), 'utf8')) as { facts?: object };
    const file = basename(base.path);
    const config = Buffer.from(JSON.stringify({ ...record, path: file, ...(record.facts ? { facts: { ...record.facts, image: file } } : {}) }, null, 2));
    await this.#pushArtifact({ repository: basesRepository, tag, file: base.path, config, configMediaType: baseRecordMediaType, artifactType: baseArtifactType, signal });
    this.#published.add(`base:${tag}`);
    return true;
  }

  /**
   * Fetch `prescient/bases:<name>-<key>` into `basesDir` as `<name>-<key>.qcow2` (read-only) and
   * its record, written last (the record is what makes a base exist). False when it is not there.
   */
  async fetchBase(input: { name: string; key: string; basesDir: string; signal?: AbortSignal }): Promise<boolean> {
    const tag = `${input.name}-${input.key}`;
    if (!tagPattern.test(tag)) return false;
    await mkdir(input.basesDir, { recursive: true });
    // beside the bases: the image is renamed into place, never copied
    const work = await mkdtemp(join(input.basesDir, `.fetch-${process.pid}-`));
    try {
      const pulled = await this.#pullArtifact({ repository: basesRepository, tag, dir: join(work, 'layout'), configMediaType: baseRecordMediaType, signal: input.signal });
      if (!pulled) return false;
      const record = JSON.parse(pulled.config.toString('utf8')) as { name?: unknown; key?: unknown };
      if (record.name !== input.name || record.key !== input.key) return false;
      const image = join(input.basesDir, `${tag}.qcow2`);
      await chmod(pulled.file, 0o444);
      await rename(pulled.file, image);
      await writeFile(join(work, 'record.json'), `${JSON.stringify({ ...record, path: image }, null, 2)}\n`);
      await rename(join(work, 'record.json'), join(input.basesDir, `${tag}.json`));
      return true;
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  /** One file and a config as a one-layer OCI manifest, pushed to `repository:tag`. */
  async #pushArtifact(input: { repository: string; tag: string; file: string; digest?: Digest; config: Buffer; configMediaType: string; artifactType: string; signal?: AbortSignal }): Promise<void> {
    const work = await mkdtemp(join(this.o.local.layout.tmpDir, `${process.pid}-artifact-push-`));
    try {
      const dir = join(work, 'layout');
      const layout = await OciLayout.open(dir);
      const digest = input.digest ?? (await sha256File(input.file, input.signal));
      await link(input.file, layout.blobPath(digest)).catch(() => copyFile(input.file, layout.blobPath(digest)));
      const size = (await layout.blobSize(digest))!;
      const config = await layout.putBlobBytes(input.config);
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: mediaTypes.ociManifest,
          artifactType: input.artifactType,
          config: { mediaType: input.configMediaType, digest: config.digest, size: config.size },
          layers: [{ mediaType: mediaTypes.prescientLayer, digest, size }],
        }),
      );
      const m = await layout.putBlobBytes(manifest);
      await layout.updateIndex((index) => {
        index.manifests.push({ mediaType: mediaTypes.ociManifest, digest: m.digest, size: m.size, annotations: { 'org.opencontainers.image.ref.name': 'artifact' } });
      });
      await rm(layout.tmpDir, { recursive: true, force: true });
      const dest = this.ref(input.repository, input.tag);
      const auth = await skopeoAuthArgs('dest', dest, this.options(input.repository, ['pull', 'push'], input.signal), work);
      await run('skopeo', ['copy', '--preserve-digests', ...auth, `oci:${dir}:artifact`, dest], { timeoutMs: 6 * 3600_000, ...(input.signal ? { signal: input.signal } : {}) });
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  /** A one-layer artifact pulled into `dir`: its config bytes and the path of its one blob; undefined when not there. */
  async #pullArtifact(input: { repository: string; tag: string; dir: string; configMediaType: string; signal?: AbortSignal }): Promise<{ config: Buffer; file: string; digest: Digest } | undefined> {
    const src = this.ref(input.repository, input.tag);
    const auth = await skopeoAuthArgs('src', src, this.options(input.repository, ['pull'], input.signal), dirname(input.dir));
    try {
      await run('skopeo', ['copy', '--preserve-digests', ...auth, src, `oci:${input.dir}:artifact`], { timeoutMs: 6 * 3600_000, ...(input.signal ? { signal: input.signal } : {}) });
    } catch (e) {
      if (e instanceof ExternalToolError && notThere.test(e.stderr)) return undefined;
      throw e;
    }
    const index = JSON.parse(await readFile(join(input.dir, 'index.json'), 'utf8')) as { manifests: { digest: Digest }[] };
    const blob = (d: Digest): string => join(input.dir, 'blobs', 'sha256', d.slice('sha256:'.length));
    const manifest = parseManifest(await readFile(blob(index.manifests[0]!.digest)));
    if (isIndexManifest(manifest) || manifest.config.mediaType !== input.configMediaType || manifest.layers.length !== 1) return undefined;
    const digest = manifest.layers[0]!.digest;
    return { config: await readFile(blob(manifest.config.digest)), file: blob(digest), digest };
  }

  /** RemoteLayerSource: the layer `key` from the registry, if it was built there on this very parent. */
  async fetch(input: { key: string; parentDigest: Digest; cache: LayerCache; signal?: AbortSignal }): Promise<LayerRecord | undefined> {
    const { key, parentDigest, cache, signal } = input;
    const work = await mkdtemp(join(this.o.local.layout.tmpDir, `${process.pid}-layer-pull-`));
    try {
      const pulled = await this.#pullArtifact({ repository: layersRepository, tag: key, dir: join(work, 'layout'), configMediaType: layerRecordMediaType, ...(signal ? { signal } : {}) });
      if (!pulled) return undefined;
      const record = layerRecordSchema.parse(JSON.parse(pulled.config.toString('utf8')));
      if (record.key !== key || record.digest !== pulled.digest || record.parentDigest !== parentDigest) return undefined;
      const adopted = { key, parent: record.parent, parentPath: cache.blobPath(parentDigest), module: record.module, moduleVersion: record.moduleVersion, changes: record.changes as LayerRecord['changes'], createdAt: record.createdAt, buildMs: record.buildMs, digest: pulled.digest };
      return await cache.adopt(pulled.file, adopted, signal);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }
}

/**
 * The external registry of a configuration, or undefined for `local`. `mintToken` is this home's
 * (Grants.tokenFor as the admin), used when no credentials file is configured.
 */
export async function openExternalRegistry(input: { config: RegistryConfig; local: Registry; mintToken?: (access: { repository: string; actions: ('pull' | 'push')[] }[]) => string }): Promise<ExternalRegistry | undefined> {
  const { config } = input;
  if (config.kind === 'local') return undefined;
  let auth: ExternalAuth | undefined;
  if (config.credentialsFile !== undefined) {
    const mode = await stat(config.credentialsFile).then((st) => st.mode, () => undefined);
    if (mode !== undefined && (mode & 0o077) !== 0) throw new ValidationError('registry.credentialsFile', `${config.credentialsFile} is readable by others: chmod 600 it`);
    const text = (await readFile(config.credentialsFile, 'utf8').catch(() => {
      throw new ValidationError('registry.credentialsFile', `cannot read ${config.credentialsFile}`);
    })).trim();
    if (!/^[^:\s]+:\S+$/.test(text)) throw new ValidationError('registry.credentialsFile', 'expected one line username:secret');
    auth = { creds: text };
  } else if (input.mintToken) auth = { token: input.mintToken };
  return new ExternalRegistry({ config, local: input.local, ...(auth ? { auth } : {}) });
}
