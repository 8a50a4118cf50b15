import type { Digest } from '../core/digest.js';
import type { VmSpec } from '../pipeline/vm-spec.js';
import type { Registry } from '../registry/registry.js';
import { annotations } from '../contracts/annotations.js';

/** What a registered image was built for, from its manifest annotations and config. */
export interface ImageProvenance {
  version?: number;
  planDigest?: string;
  baseKey?: string;
  vmSpec?: VmSpec;
}

export type LatestImage = ImageProvenance & { digest: Digest; tags: string[] };

/** What a shown version was built for: its manifest's annotations and its config's VM spec. */
export function imageProvenance(shown: Awaited<ReturnType<Registry['show']>>): ImageProvenance {
  const onManifest = shown.manifest.annotations ?? {};
  return {
    ...(shown.version ? { version: shown.version.version } : {}),
    ...(onManifest[annotations.planDigest] ? { planDigest: onManifest[annotations.planDigest] } : {}),
    ...(onManifest[annotations.baseKey] ? { baseKey: onManifest[annotations.baseKey] } : {}),
    ...(shown.config['vmSpec'] ? { vmSpec: shown.config['vmSpec'] as VmSpec } : {}),
  };
}

/**
 * A repository's `latest` (always a completely registered version) with what it was built for.
 * Only the tag list is read each time when `provenanceOf` keeps what it read: what a digest
 * holds never changes, so a caller that memoises it keeps a prebuilt hit to one small read.
 */
export async function latestImage(
  registry: Registry,
  repository: string,
  provenanceOf: (reference: string) => Promise<ImageProvenance> = async (reference) => imageProvenance(await registry.show(reference)),
): Promise<LatestImage | undefined> {
  const tags: Map<string, Digest> = await registry.tags(repository).catch(() => new Map<string, Digest>());
  const digest = tags.get('latest');
  if (!digest) return undefined;
  const known = await provenanceOf(`${repository}@${digest}`);
  return { digest, tags: [...tags].filter(([, d]) => d === digest).map(([t]) => t), ...known };
}
