import type { DatasetEntry } from './policy.js';

/** Where catalogued datasets land in the guest unless their entry says otherwise. */
export const defaultDatasetRoot = '/var/lib/prescient/datasets';

/** The guest path of a catalogued dataset (or of a file below a catalogued folder). */
export function datasetDestination(entry: DatasetEntry, relative?: string): string {
  const base = entry.destination ?? `${defaultDatasetRoot}/${entry.name}`;
  return relative === undefined ? base : `${base}/${relative}`;
}
