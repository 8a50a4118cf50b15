import type { Digest } from '../core/digest.js';
import { annotations } from '../contracts/annotations.js';
import type { Descriptor, LayoutIndex } from './oci-types.js';
import { isTag } from './reference.js';

/**
 * Reading and writing the registry's entries in index.json: a descriptor belongs to a
 * repository through `io.prescient.repository`, and is a tag when its ref name is `<repository>:<tag>`.
 */

export function isOf(d: Descriptor, repository: string): boolean {
  return d.annotations?.[annotations.repository] === repository;
}

export function entriesOf(index: LayoutIndex, repository: string): Descriptor[] {
  return index.manifests.filter((d) => isOf(d, repository));
}

export function tagOfEntry(d: Descriptor): string | undefined {
  const name = d.annotations?.[annotations.refName];
  const repo = d.annotations?.[annotations.repository];
  if (!name || !repo || !name.startsWith(`${repo}:`)) return undefined;
  const tag = name.slice(repo.length + 1);
  return isTag(tag) ? tag : undefined;
}

export function tagsOf(index: LayoutIndex, repository: string): Map<string, Digest> {
  const out = new Map<string, Digest>();
  for (const d of entriesOf(index, repository)) {
    const t = tagOfEntry(d);
    if (t) out.set(t, d.digest);
  }
  return out;
}

export function entry(d: Descriptor, repository: string, extra: Record<string, string>): Descriptor {
  const { annotations: _ignored, ...plain } = d;
  return { ...plain, annotations: { [annotations.repository]: repository, ...extra } };
}

export function setTag(index: LayoutIndex, repository: string, tag: string, d: Descriptor): void {
  const name = `${repository}:${tag}`;
  index.manifests = index.manifests.filter((e) => !(isOf(e, repository) && e.annotations?.[annotations.refName] === name));
  index.manifests.push(entry(d, repository, { [annotations.refName]: name }));
}
