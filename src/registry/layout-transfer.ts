import { copyFile, link, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { algorithmOf, hexOf, type Digest } from '../core/digest.js';
import { NotFoundError } from '../core/errors.js';
import { annotations } from '../contracts/annotations.js';
import { manifestMediaTypes } from './media-types.js';
import { OciLayout } from './oci-layout.js';
import { isIndexManifest, referencesOf, type Descriptor, type ImageManifest, type IndexManifest, type LayoutIndex, type ResolvedManifest } from './oci-types.js';
import { parseManifest } from './parse-manifest.js';
import type { PutManifestResult } from './put-manifest.js';
import { assertTag } from './reference.js';

/** What a layout transfer needs of a registry (the Registry class passes itself; no import back to it). */
export interface TransferRegistry {
  readonly layout: OciLayout;
  resolveRef(text: string): Promise<ResolvedManifest>;
  lease(digest: Digest): Promise<void>;
  manifest(digest: Digest): Promise<ImageManifest | IndexManifest>;
  putManifest(repository: string, reference: string, bytes: Buffer, contentType?: string, signal?: AbortSignal): Promise<PutManifestResult>;
}

/**
 * Write one image (manifest and everything it references) as a standalone OCI layout in `dir`
 * with ref name `refName`: what `skopeo copy oci:<dir>:<refName>` reads. Blobs are hard links
 * when possible (read-only use), copies otherwise.
 */
export async function exportImageLayout(registry: TransferRegistry, text: string, dir: string, refName: string): Promise<ResolvedManifest> {
  const target = await registry.resolveRef(text);
  await registry.lease(target.digest);
  const out = await OciLayout.open(dir);
  const copy = async (d: Descriptor): Promise<void> => {
    if (d.urls?.length) return;
    const dest = out.blobPath(d.digest);
    if ((await out.blobSize(d.digest)) === undefined) {
      await link(registry.layout.blobPath(d.digest), dest).catch(() => copyFile(registry.layout.blobPath(d.digest), dest));
    }
    if (!manifestMediaTypes.includes(d.mediaType)) return;
    const m = await registry.manifest(d.digest);
    for (const c of referencesOf(m)) await copy(c);
  };
  const desc: Descriptor = { mediaType: target.mediaType, digest: target.digest, size: target.size };
  await copy(desc);
  await out.updateIndex((index) => {
    index.manifests = index.manifests.filter((d) => d.annotations?.[annotations.refName] !== refName);
    index.manifests.push({ ...desc, annotations: { [annotations.refName]: refName } });
  });
  await rm(out.tmpDir, { recursive: true, force: true });
  return target;
}

/**
 * Bring one image from a foreign OCI layout (what `skopeo copy … oci:<dir>:<ref>` wrote) into
 * the registry: every blob is re-verified against its digest on the way in, then the manifest
 * is recorded under `tag` (becoming a new version unless the repository already has it).
 */
export async function importImageLayout(registry: TransferRegistry, dir: string, refName: string | undefined, repository: string, tag: string, signal?: AbortSignal): Promise<{ digest: Digest; version?: number }> {
  const foreign = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as LayoutIndex;
  const found = refName === undefined ? (foreign.manifests.length === 1 ? foreign.manifests[0] : undefined) : foreign.manifests.find((d) => d.annotations?.[annotations.refName] === refName);
  if (!found) throw new NotFoundError(`${dir} has no image ${refName ?? '(exactly one expected)'}`);
  const blobFile = (d: Digest): string => join(dir, 'blobs', algorithmOf(d), hexOf(d));
  const bring = async (d: Descriptor): Promise<void> => {
    if (d.urls?.length) return;
    await registry.layout.putBlobFile(blobFile(d.digest), { digest: d.digest, size: d.size }, signal);
    if (!manifestMediaTypes.includes(d.mediaType)) return;
    const m = parseManifest(await readFile(blobFile(d.digest)));
    for (const c of referencesOf(m)) await bring(c);
    if (isIndexManifest(m)) for (const c of m.manifests) await registry.putManifest(repository, c.digest, await readFile(blobFile(c.digest)), c.mediaType, signal);
  };
  for (const c of await childrenOf(found, blobFile)) await bring(c);
  const bytes = await readFile(blobFile(found.digest));
  return registry.putManifest(repository, assertTag(tag), bytes, found.mediaType, signal);
}

async function childrenOf(d: Descriptor, blobFile: (d: Digest) => string): Promise<Descriptor[]> {
  return referencesOf(parseManifest(await readFile(blobFile(d.digest))));
}
