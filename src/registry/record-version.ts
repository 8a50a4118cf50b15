import { annotations } from '../contracts/annotations.js';
import { OciError } from './oci-error.js';
import type { OciLayout } from './oci-layout.js';
import { entriesOf, entry, isOf, setTag, tagOfEntry } from './index-entries.js';
import type { Descriptor } from './oci-types.js';
import { versionOfTag, versionTag } from './reference.js';

export interface RecordVersionInput {
  repository: string;
  descriptor: Descriptor;
  /** Tags to point at the manifest. */
  tags: readonly string[];
  /** Unless it already is a version of the repository, give it the next version number. */
  newVersion: boolean;
  /** The version a pushed `v<n>` tag names (immutable: refused when another manifest holds it). */
  explicitVersion?: number | undefined;
  /** Run under the index lock, which gc also holds: a blob the manifest needs cannot vanish after it. */
  verify?: () => Promise<void>;
  signal?: AbortSignal | undefined;
}

/**
 * One index update: point `tags` at the manifest and, unless it is already a version of the
 * repository, give it the next version number (or `explicitVersion`, when a v<n> tag is pushed).
 * The one place version numbers are handed out, for registrations and pushes alike.
 */
export function recordVersion(layout: OciLayout, input: RecordVersionInput): Promise<{ version: number }> {
  const { repository, descriptor, tags, explicitVersion } = input;
  return layout.updateIndex(async (index) => {
    await input.verify?.();
    const entries = entriesOf(index, repository);
    let version = entries.map((d) => ({ d, v: versionOfTag(tagOfEntry(d) ?? '') })).find((x) => x.v !== undefined && x.d.digest === descriptor.digest)?.v;
    if (explicitVersion !== undefined) {
      const holder = entries.find((d) => tagOfEntry(d) === versionTag(explicitVersion));
      if (holder && holder.digest !== descriptor.digest) {
        throw new OciError('DENIED', `${repository}:${versionTag(explicitVersion)} is a version tag and already names ${holder.digest}; versions are immutable`);
      }
      version = explicitVersion;
      if (!holder) index.manifests.push(entry(descriptor, repository, { [annotations.refName]: `${repository}:${versionTag(version)}` }));
    } else if (version === undefined && input.newVersion) {
      version = 1 + Math.max(0, ...entries.map((d) => versionOfTag(tagOfEntry(d) ?? '') ?? 0));
      index.manifests.push(entry(descriptor, repository, { [annotations.refName]: `${repository}:${versionTag(version)}` }));
    }
    for (const tag of tags) setTag(index, repository, tag, descriptor);
    // an untagged copy kept by digest is no longer needed once a tag holds the manifest
    index.manifests = index.manifests.filter((d) => !(isOf(d, repository) && d.digest === descriptor.digest && d.annotations?.[annotations.retained] && (tags.length || version !== undefined)));
    return { version: version ?? 0 };
  }, input.signal);
}
