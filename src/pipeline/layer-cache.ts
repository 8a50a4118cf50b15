import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { canonicalJson } from '../core/canonical-json.js';
import { sha256Hex } from '../core/digest.js';
import type { Change } from './change.js';

/**
 * The layer cache: one qcow2 overlay per (parent, module, version, changes), published by
 * rename so that a half-built layer is never visible. A layer's record (JSON) is written last
 * and is what makes the layer exist; a qcow2 without its record is debris from a killed build.
 */
export interface LayerRecord {
  key: string;
  parent: string; // the parent's key (a base's key for the first layer)
  parentPath: string;
  module: string;
  moduleVersion: number;
  changes: Change[];
  path: string;
  createdAt: string;
  buildMs: number;
}

/**
 * Bump when apply.ts does the same Changes differently (what lands in a layer changes), so
 * layers built the old way are not reused.
 */
export const applierVersion = 2;

export function layerKey(input: { parent: string; module: string; moduleVersion: number; changes: readonly Change[] }): string {
  return sha256Hex(canonicalJson({ applier: applierVersion, parent: input.parent, module: input.module, moduleVersion: input.moduleVersion, changes: input.changes }));
}

export class LayerCache {
  constructor(readonly dir: string) {}

  layerPath(key: string): string {
    return join(this.dir, `${key}.qcow2`);
  }

  private recordPath(key: string): string {
    return join(this.dir, `${key}.json`);
  }

  /** A temporary name for a layer being built; `publish` renames it into place. */
  async tempPath(key: string): Promise<string> {
    await mkdir(this.dir, { recursive: true });
    return join(this.dir, `.tmp-${key}-${process.pid}.qcow2`);
  }

  async get(key: string): Promise<LayerRecord | undefined> {
    try {
      const record = JSON.parse(await readFile(this.recordPath(key), 'utf8')) as LayerRecord;
      await stat(record.path);
      return record;
    } catch {
      return undefined;
    }
  }

  async publish(tmp: string, record: Omit<LayerRecord, 'path' | 'createdAt'>): Promise<LayerRecord> {
    const full: LayerRecord = { ...record, path: this.layerPath(record.key), createdAt: new Date().toISOString() };
    await rename(tmp, full.path);
    const tmpRecord = `${this.recordPath(record.key)}.tmp-${process.pid}`;
    await writeFile(tmpRecord, JSON.stringify(full, null, 2));
    await rename(tmpRecord, this.recordPath(record.key));
    return full;
  }

  /** Removes temporaries whose building process is gone. */
  async sweep(): Promise<number> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    let removed = 0;
    for (const n of names) {
      const m = /^\.tmp-[0-9a-f]+-(\d+)\.qcow2$/.exec(n) ?? /\.json\.tmp-(\d+)$/.exec(n);
      if (!m) continue;
      try {
        process.kill(Number(m[1]), 0);
      } catch {
        await rm(join(this.dir, n), { force: true });
        removed++;
      }
    }
    return removed;
  }
}
