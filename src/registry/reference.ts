import { digestForm, isDigest, type Digest } from '../core/digest.js';
import { isRepositoryName } from '../contracts/identifiers.js';
import { ValidationError } from '../core/errors.js';

const tagPattern = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
/** Tags that name versions (`v1`, `v2`…): set by the registry, never moved. */
const versionTagPattern = /^v([1-9][0-9]*)$/;

export function isTag(tag: string): boolean {
  return tagPattern.test(tag);
}

export function assertRepository(name: string, field = 'repository'): string {
  if (!isRepositoryName(name)) throw new ValidationError(field, `${JSON.stringify(name)} is not an OCI repository name (lowercase [a-z0-9] components joined by . _ __ - and /)`);
  return name;
}

export function assertTag(tag: string, field = 'tag'): string {
  if (!isTag(tag)) throw new ValidationError(field, `${JSON.stringify(tag)} is not an OCI tag ([a-zA-Z0-9_][a-zA-Z0-9._-]{0,127})`);
  return tag;
}

export function versionTag(version: number): string {
  return `v${version}`;
}

/** The version number a tag names, or undefined for a moving tag such as `latest`. */
export function versionOfTag(tag: string): number | undefined {
  const m = versionTagPattern.exec(tag);
  return m ? Number(m[1]) : undefined;
}

/** `repo`, `repo:tag`, `repo@sha256:…` (or `@sha512:…`): what the CLI and the API accept as an image reference. */
export interface ImageRef {
  repository: string;
  /** A tag or a digest; `latest` when the reference names neither. */
  reference: string;
}

export function parseImageRef(text: string, field = 'reference'): ImageRef {
  const at = text.indexOf('@');
  if (at >= 0) {
    const repository = assertRepository(text.slice(0, at), field);
    const digest = text.slice(at + 1);
    if (!isDigest(digest)) throw new ValidationError(field, `${JSON.stringify(digest)} is not ${digestForm}`);
    return { repository, reference: digest };
  }
  const colon = text.lastIndexOf(':');
  if (colon > text.lastIndexOf('/')) {
    return { repository: assertRepository(text.slice(0, colon), field), reference: assertTag(text.slice(colon + 1), field) };
  }
  return { repository: assertRepository(text, field), reference: 'latest' };
}

/** A manifest reference in an API path: a tag or a digest, nothing else (no traversal). */
export function assertReference(reference: string, field = 'reference'): string | Digest {
  if (isDigest(reference) || isTag(reference)) return reference;
  throw new ValidationError(field, `${JSON.stringify(reference)} is neither a tag nor ${digestForm}`);
}

export function formatImageRef(ref: ImageRef): string {
  return isDigest(ref.reference) ? `${ref.repository}@${ref.reference}` : `${ref.repository}:${ref.reference}`;
}
