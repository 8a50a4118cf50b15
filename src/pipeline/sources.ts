import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { FileIdentityCache } from '../core/file-identity.js';
import { meetsThreshold } from './modules/inclusion-threshold.js';
import { defaultPolicy, type Policy } from '../policy/policy.js';
import { catalogueEntry, PolicyError } from '../policy/vector-policy.js';
import type { UsageVector } from '../contracts/usage-vector.js';

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

/**
 * Digests kept while a file's identity (inode, size, ns times) is unchanged, so an unchanged
 * file is not read twice in one process, and a rewrite in the same millisecond is read again.
 */
const digests = new FileIdentityCache<ResolvedSource>();

/**
 * A vector's datasets → the files the data module will copy. A source is only ever a name of
 * the admin's dataset catalogue (or a file below a catalogued folder), never a host path: a
 * vector — and so telemetry — cannot make Prescient read anything the admin did not register.
 * A folder's file is resolved through its real path and must stay inside the folder (no
 * symlink out), and what one image reads from an entry is capped at the entry's `maxBytes`.
 */
export async function resolveSources(
  vector: UsageVector,
  options: { threshold: number; policy?: Policy; signal?: AbortSignal },
): Promise<ResolvedSources> {
  const policy = options.policy ?? defaultPolicy();
  const out = new Map<string, ResolvedSource>();
  const readFrom = new Map<string, number>();
  for (const [i, d] of vector.datasets.entries()) {
    if (!meetsThreshold(d.probability, options.threshold)) continue;
    const field = `datasets[${i}].source`;
    const found = catalogueEntry(policy, d.source);
    if (!found) throw new PolicyError(field, 'not in the dataset catalogue (prescient datasets ls)');
    const { entry, relative } = found;
    let path = entry.path;
    if (relative !== undefined) {
      const root = await realpath(entry.path).catch(() => undefined);
      const real = root && (await realpath(join(root, relative)).catch(() => undefined));
      if (!root || !real) throw new PolicyError(field, `no file ${relative} in dataset ${entry.name}`);
      if (!real.startsWith(root + sep)) throw new PolicyError(field, `${relative} leads outside dataset ${entry.name}`);
      path = real;
    }
    const st = await stat(path).catch(() => undefined);
    if (!st?.isFile()) throw new PolicyError(field, `dataset ${entry.name}: ${relative ?? 'its file'} is not a readable file`);
    const total = (readFrom.get(entry.name) ?? 0) + st.size;
    if (total > entry.maxBytes) throw new PolicyError(field, `dataset ${entry.name} is capped at ${entry.maxBytes} bytes for one image (this one would read ${total})`);
    readFrom.set(entry.name, total);
    out.set(d.source, await digestOf(path, options.signal));
  }
  return out;
}

/**
 * The digest of the bytes read (their count is the size: a file rewritten between the stat and
 * the read is described as read). Requests share one read of a file; a request whose own signal
 * did not abort retries when the read it joined was aborted by another's.
 */
async function digestOf(path: string, signal: AbortSignal | undefined): Promise<ResolvedSource> {
  const read = async (): Promise<ResolvedSource> => {
    const hash = createHash('sha256');
    let sizeBytes = 0;
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20, ...(signal ? { signal } : {}) })) {
      hash.update(chunk as Buffer);
      sizeBytes += (chunk as Buffer).length;
    }
    return { path, sha256: hash.digest('hex'), sizeBytes };
  };
  for (;;) {
    try {
      return await digests.get(path, read);
    } catch (e) {
      if ((e as Error).name !== 'AbortError' || signal?.aborted) throw e;
    }
  }
}
