import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/**
 * The digest algorithms of the OCI image spec ("Digests": sha256 and sha512 are registered) that
 * the registry accepts wherever a digest goes. Prescient writes sha256 itself; sha512 arrives
 * from OCI clients that push with it.
 */
export const digestAlgorithms = ['sha256', 'sha512'] as const;
export type DigestAlgorithm = (typeof digestAlgorithms)[number];
export type Digest = `${DigestAlgorithm}:${string}`;

/** The one pattern of a valid digest: the registered algorithms, lower-case hex of their length. */
export const digestPattern = /^(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;
/** How errors describe a valid digest. */
export const digestForm = 'a digest (sha256:<64 hex> or sha512:<128 hex>)';

export function isDigest(s: string): s is Digest {
  return digestPattern.test(s);
}

export function algorithmOf(digest: Digest): DigestAlgorithm {
  return digest.startsWith('sha512:') ? 'sha512' : 'sha256';
}

/** The encoded part (`<hex>`), which names the blob's file under blobs/<algorithm>/. */
export function hexOf(digest: Digest): string {
  return digest.slice(digest.indexOf(':') + 1);
}

export function digestOf(data: string | Uint8Array, algorithm: DigestAlgorithm = 'sha256'): Digest {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function sha256Digest(data: string | Uint8Array): Digest {
  return `sha256:${sha256Hex(data)}`;
}

/** Streams the file, so a multi-GiB layer never sits in memory. */
export async function sha256File(path: string, signal?: AbortSignal): Promise<Digest> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20, signal })) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}
