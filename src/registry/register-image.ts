import { stat, utimes } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { canonicalJson } from '../core/canonical-json.js';
import type { Digest } from '../core/digest.js';
import { ConflictError, ValidationError } from '../core/errors.js';
import { annotations } from '../contracts/annotations.js';
import { mediaTypes } from './media-types.js';
import { hashFile, type OciLayout } from './oci-layout.js';
import type { ResolvedManifest } from './oci-types.js';
import { checkChainLayer, storeLayer } from './qcow2-chain.js';
import { recordVersion } from './record-version.js';
import { assertRepository, assertTag, versionOfTag, versionTag } from './reference.js';
import { SourceCache } from './source-cache.js';

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

/** What registering needs of a registry (the Registry class passes itself; no import back to it). */
export interface RegisteringRegistry {
  readonly layout: OciLayout;
  readonly root: string;
  tags(repository: string): Promise<Map<string, Digest>>;
  resolve(repository: string, reference: string): Promise<ResolvedManifest>;
}

type StoredLayer = { digest: Digest; size: number; written: number; linked?: boolean };

const configSchema = z.record(z.string(), z.unknown());

/**
 * A new version from a qcow2 chain and its provenance: each layer stored once (linked from the
 * layer cache, or known by file identity or content, or copied and rebased), then the config, the
 * manifest and one index update that gives it the next version number and moves its tags.
 */
export async function registerImage(registry: RegisteringRegistry, input: RegisterInput): Promise<RegisterResult> {
  const { signal } = input;
  const { layout } = registry;
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
  if (input.parent === undefined) parent = (await registry.tags(repository)).get('latest');
  else if (input.parent !== null) parent = (await registry.resolve(repository, input.parent)).digest;

  const sources = new SourceCache(join(registry.root, '.sources.json'), () => layout.tmpPath('.json'));
  await sources.load();
  let bytesWritten = 0;
  const layers: RegisterResult['layers'] = [];
  // qemu-img reads every header first, in parallel: a wrong chain fails before anything is written
  await Promise.all(input.layers.map((l, i) => checkChainLayer(l.path, i, input.layers[i - 1]?.path, signal)));
  let previous: { path: string; digest: Digest } | undefined;
  for (const [i, l] of input.layers.entries()) {
    const key = await sources.key(l.path, previous?.digest);
    let stored: StoredLayer | undefined = (await cachedLayer(layout, sources.get(key))) ?? (await linkedLayer(layout, l.path));
    if (!stored) {
      // a file not seen under this identity may still be content we stored: reading is cheaper than writing
      const hashed = await hashFile(l.path, signal);
      const contentKey = `content:${hashed.digest}:${previous?.digest ?? '-'}`;
      stored = (await cachedLayer(layout, sources.get(contentKey))) ?? (await storeLayer(layout, l.path, previous?.digest, signal, hashed));
      sources.set(key, stored.digest);
      sources.set(contentKey, stored.digest);
    }
    bytesWritten += stored.written;
    const linked = stored.linked === true;
    layers.push({ digest: stored.digest, size: stored.size, reused: stored.written === 0 && !linked, linked });
    input.onLayer?.({ index: i, digest: stored.digest, size: stored.size, written: stored.written });
    previous = { path: l.path, digest: stored.digest };
  }
  await sources.save();

  const configBytes = Buffer.from(canonicalJson(config));
  const configWrite = await layout.putBlobBytes(configBytes);
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
  const mw = await layout.putBlobBytes(bytes);
  bytesWritten += mw.written;
  const stillStored = async (): Promise<void> => {
    for (const d of [configWrite.digest, ...layers.map((l) => l.digest)]) {
      if ((await layout.blobSize(d)) === undefined) throw new ConflictError(`blob ${d} was garbage-collected during the registration; register again`);
    }
  };
  const descriptor = { mediaType: mediaTypes.ociManifest, digest: mw.digest, size: mw.size, artifactType: mediaTypes.prescientImage };
  const { version } = await recordVersion(layout, { repository, descriptor, tags, newVersion: true, verify: stillStored, signal });
  return { repository, digest: mw.digest, version, tags: [versionTag(version), ...tags], config: { digest: configWrite.digest, size: configWrite.size }, layers, bytesWritten };
}

/**
 * A layer file named by its digest that is the very inode of the stored blob (a hard link from
 * the layer cache): the same bytes by construction, so it needs neither hashing nor copying —
 * even after the registry's own touches changed its time.
 */
async function linkedLayer(layout: OciLayout, path: string): Promise<StoredLayer | undefined> {
  const name = basename(path);
  if (!/^[a-f0-9]{64}$/.test(name)) return undefined;
  const digest: Digest = `sha256:${name}`;
  const [a, b] = await Promise.all([stat(path).catch(() => undefined), stat(layout.blobPath(digest)).catch(() => undefined)]);
  if (!a || !b || a.ino !== b.ino || a.dev !== b.dev) return undefined;
  return cachedLayer(layout, digest);
}

async function cachedLayer(layout: OciLayout, digest: Digest | undefined): Promise<StoredLayer | undefined> {
  if (!digest) return undefined;
  const size = await layout.blobSize(digest);
  if (size === undefined) return undefined;
  const now = new Date();
  await utimes(layout.blobPath(digest), now, now); // inside gc's grace period from now on
  return { digest, size, written: 0 };
}
