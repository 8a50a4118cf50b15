import { algorithmOf, digestOf, isDigest, sha256Digest, type Digest } from '../core/digest.js';
import { annotations } from '../contracts/annotations.js';
import { manifestMediaTypes, mediaTypes } from './media-types.js';
import { OciError } from './oci-error.js';
import type { OciLayout } from './oci-layout.js';
import { entriesOf, entry, setTag } from './index-entries.js';
import { isIndexManifest, referencesOf, type Descriptor, type ImageManifest, type IndexManifest } from './oci-types.js';
import { parseManifest } from './parse-manifest.js';
import { recordVersion } from './record-version.js';
import { assertRepository, assertTag, versionOfTag } from './reference.js';

export interface PutManifestInput {
  repository: string;
  /** A tag, or the digest the manifest must have. */
  reference: string;
  bytes: Buffer;
  contentType?: string | undefined;
  signal?: AbortSignal | undefined;
  /** False for what OCI clients push through the distribution API: their tags only, no `v<n>` of ours. */
  versioned?: boolean | undefined;
}

export interface PutManifestResult {
  digest: Digest;
  version?: number;
  subject?: Digest;
}

/**
 * Store a manifest received from outside (the push API, a pull): validate it, check every blob
 * and child manifest it references is stored, then record it under a tag or by digest. A
 * manifest pushed by tag that is not yet a version of the repository becomes the next version,
 * unless `versioned` is false: what OCI clients push through the distribution API keeps
 * exactly the tags they pushed (no `v<n>` of ours in their tags/list); a `v3` they push is
 * their tag, not a version number. Also returns the parsed manifest, for the caller's cache.
 */
export async function putManifest(layout: OciLayout, input: PutManifestInput): Promise<PutManifestResult & { manifest: ImageManifest | IndexManifest }> {
  const { repository, reference, bytes, contentType, signal } = input;
  const versioned = input.versioned !== false;
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
    const size = await layout.blobSize(d.digest);
    if (size === undefined) missing.push(d.digest);
    else if (size !== d.size) throw new OciError('SIZE_INVALID', `${d.digest} is ${size} bytes, the manifest says ${d.size}`, { digest: d.digest });
  }
  if (missing.length) throw new OciError('MANIFEST_BLOB_UNKNOWN', `the manifest references blobs that are not stored: ${missing.join(', ')}`, { missing });
  const w = await layout.putBlobBytes(bytes, { digest });
  const descriptor: Descriptor = {
    mediaType,
    digest: w.digest,
    size: w.size,
    ...(parsed.artifactType ? { artifactType: parsed.artifactType } : {}),
  };
  // checked again under the index lock, which gc also holds: a blob cannot vanish in between
  const stillStored = async (): Promise<void> => {
    for (const d of referenced) {
      if (!d.urls?.length && (await layout.blobSize(d.digest)) === undefined) {
        throw new OciError('MANIFEST_BLOB_UNKNOWN', `blob ${d.digest} was removed while the manifest was pushed`, { missing: [d.digest] });
      }
    }
  };
  const subject = parsed.subject ? { subject: parsed.subject.digest } : {};
  if (isDigest(reference)) {
    await layout.updateIndex(async (index) => {
      await stillStored();
      if (!entriesOf(index, repository).some((d) => d.digest === digest)) {
        index.manifests.push(entry(descriptor, repository, { [annotations.retained]: 'true' }));
      }
    }, signal);
    return { digest, ...subject, manifest: parsed };
  }
  if (!versioned) {
    await layout.updateIndex(async (index) => {
      await stillStored();
      setTag(index, repository, reference, descriptor);
    }, signal);
    return { digest, ...subject, manifest: parsed };
  }
  const versionNumber = versionOfTag(reference);
  const { version } = await recordVersion(layout, {
    repository,
    descriptor,
    tags: versionNumber === undefined ? [reference] : [],
    newVersion: versionNumber === undefined,
    explicitVersion: versionNumber,
    verify: stillStored,
    signal,
  });
  return { digest, ...(version !== undefined ? { version } : {}), ...subject, manifest: parsed };
}
