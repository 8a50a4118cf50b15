import { OciError } from './oci-error.js';
import { firstIssue } from '../core/field-issues.js';
import { imageManifestSchema, indexManifestSchema, type ImageManifest, type IndexManifest } from './oci-types.js';

/** Parse and validate manifest bytes; a bad one is MANIFEST_INVALID naming the field. */
export function parseManifest(bytes: Buffer): ImageManifest | IndexManifest {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new OciError('MANIFEST_INVALID', `manifest is not JSON: ${(e as Error).message}`);
  }
  const isIndex = !!json && typeof json === 'object' && 'manifests' in json;
  const r = (isIndex ? indexManifestSchema : imageManifestSchema).safeParse(json);
  if (!r.success) {
    const issue = firstIssue(r.error);
    throw new OciError('MANIFEST_INVALID', `manifest ${issue.path}: ${issue.message}`, { field: issue.path });
  }
  return r.data;
}
