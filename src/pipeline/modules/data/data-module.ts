import { z } from 'zod';
import type { Change } from '../../change.js';
import { defineModule } from '../../define-module.js';
import { inclusionThresholdSchema, meetsThreshold } from '../inclusion-threshold.js';

export const datasetManifestPath = '/var/lib/prescient/datasets.json';

export const dataOptionsSchema = z
  .strictObject({
    threshold: inclusionThresholdSchema('pre-load datasets predicted at least this likely'),
    uid: z.number().int().nonnegative().default(0),
    gid: z.number().int().nonnegative().default(0),
    mode: z.number().int().min(0).max(0o7777).default(0o644),
  })
  // Parsed through the fields: each default is its field's.
  .prefault({});

export type DataOptions = z.infer<typeof dataOptionsSchema>;

/**
 * Data pre-population: each likely dataset streamed to its destination with owner and mode,
 * its checksum verified while copying and recorded in a manifest inside the guest.
 */
export const dataModule = defineModule<DataOptions>({
  id: 'data',
  // 2: copy-data names the dataset, not its host path
  version: 2,
  description: 'copies the predicted datasets in, with owner, mode and a recorded checksum',
  optionsSchema: dataOptionsSchema,
  plan({ vector, sources, options }) {
    const changes: Change[] = [];
    const manifest: Record<string, unknown>[] = [];
    for (const d of vector.datasets) {
      if (!meetsThreshold(d.probability, options.threshold)) continue;
      const src = sources.get(d.source);
      if (!src) continue; // resolveSources refuses what it cannot resolve, before planning
      changes.push({
        kind: 'copy-data',
        dataset: d.source,
        sha256: src.sha256,
        sizeBytes: src.sizeBytes,
        destination: d.destination,
        mode: options.mode,
        uid: options.uid,
        gid: options.gid,
      });
      manifest.push({ destination: d.destination, source: d.source, sha256: src.sha256, sizeBytes: src.sizeBytes, uid: options.uid, gid: options.gid, mode: options.mode.toString(8) });
    }
    if (manifest.length === 0) return { changes: [] };
    changes.push({ kind: 'write-file', path: datasetManifestPath, content: `${JSON.stringify(manifest, null, 2)}\n`, mode: 0o644 });
    return { changes };
  },
});
