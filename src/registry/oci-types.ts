import { z } from 'zod';
import { digestForm, digestPattern, type Digest } from '../core/digest.js';

/** A reference resolved to the manifest it names. */
export interface ResolvedManifest {
  repository: string;
  digest: Digest;
  mediaType: string;
  size: number;
}

const digest = z.string().regex(digestPattern, digestForm) as unknown as z.ZodType<Digest>;

export const descriptorSchema = z.object({
  mediaType: z.string().min(1),
  digest,
  size: z.number().int().nonnegative(),
  artifactType: z.string().optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  urls: z.array(z.string()).optional(),
  platform: z.record(z.string(), z.unknown()).optional(),
});
export type Descriptor = z.infer<typeof descriptorSchema>;

/** Image manifests (OCI and Docker v2 share this shape). Unknown fields are kept as-is. */
export const imageManifestSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  artifactType: z.string().optional(),
  config: descriptorSchema,
  layers: z.array(descriptorSchema),
  subject: descriptorSchema.optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});
export type ImageManifest = z.infer<typeof imageManifestSchema>;

export const indexManifestSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  artifactType: z.string().optional(),
  manifests: z.array(descriptorSchema),
  subject: descriptorSchema.optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});
export type IndexManifest = z.infer<typeof indexManifestSchema>;

/** index.json of the layout: every tag and every retained manifest, see oci-layout.ts. */
export interface LayoutIndex {
  schemaVersion: 2;
  mediaType: string;
  manifests: Descriptor[];
}

export function isIndexManifest(m: ImageManifest | IndexManifest): m is IndexManifest {
  return Array.isArray((m as IndexManifest).manifests);
}

/** What a manifest references: child manifests of an index, or config and layers. */
export function referencesOf(m: ImageManifest | IndexManifest): Descriptor[] {
  return isIndexManifest(m) ? m.manifests : [(m as ImageManifest).config, ...(m as ImageManifest).layers];
}
