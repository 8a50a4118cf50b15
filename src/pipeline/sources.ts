import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { ValidationError } from '../core/errors.js';
import type { UsageVector } from '../usage-vector/schema.js';

/**
 * Dataset sources, resolved before planning so that plans stay pure: each source is a local
 * file whose digest becomes part of the data layer's cache key (new bytes → new layer).
 */
export interface ResolvedSource {
  path: string;
  sha256: string;
  sizeBytes: number;
}

export type ResolvedSources = ReadonlyMap<string, ResolvedSource>;

/** Digests by path+size+mtime+inode, so an unchanged file is not read twice in one process. */
const memo = new Map<string, ResolvedSource>();

export function sourcePath(source: string, field: string): string {
  if (source.startsWith('file://')) return fileURLToPath(source);
  if (source.startsWith('/')) return source;
  throw new ValidationError(field, `only local sources (an absolute path or file:// URL) can be copied in here, got ${JSON.stringify(source)}`);
}

export async function resolveSources(
  vector: UsageVector,
  options: { threshold: number; signal?: AbortSignal },
): Promise<ResolvedSources> {
  const out = new Map<string, ResolvedSource>();
  for (const [i, d] of vector.datasets.entries()) {
    if (d.probability < options.threshold) continue;
    const field = `datasets[${i}].source`;
    const path = sourcePath(d.source, field);
    const st = await stat(path).catch(() => undefined);
    if (!st?.isFile()) throw new ValidationError(field, `${path} is not a readable file`);
    const key = `${path}\0${st.size}\0${st.mtimeMs}\0${st.ino}`;
    let resolved = memo.get(key);
    if (!resolved) {
      const hash = createHash('sha256');
      for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20, signal: options.signal })) hash.update(chunk as Buffer);
      resolved = { path, sha256: hash.digest('hex'), sizeBytes: st.size };
      memo.set(key, resolved);
    }
    out.set(d.source, resolved);
  }
  return out;
}
