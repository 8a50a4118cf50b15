import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ExternalToolError, ValidationError } from '../core/errors.js';

/** Where and what of the Debian archive's release indexes (`dists/<codename>/…`) to read. */
export interface ArchiveIndexOptions {
  /** Release codename, from the base image's os-release (`bookworm`). */
  codename: string;
  architecture?: string;
  mirror?: string;
  cacheDir: string;
  maxAgeMs?: number;
  signal?: AbortSignal;
}

/**
 * One file of the release's `dists/<codename>/` folder, downloaded once into `cacheDir` as
 * `name` and refreshed after `maxAgeMs` (a failed refresh keeps the cached copy). Its path.
 */
export async function cachedArchiveFile(options: ArchiveIndexOptions, distsPath: string, name: string): Promise<string> {
  if (!/^[a-z][a-z0-9-]{1,31}$/.test(options.codename)) throw new ValidationError('codename', `not a Debian release codename: ${JSON.stringify(options.codename)}`);
  const file = join(options.cacheDir, name);
  const age = await stat(file).then((s) => Date.now() - s.mtimeMs, () => Infinity);
  if (age > (options.maxAgeMs ?? 7 * 24 * 3600 * 1000)) {
    const mirror = options.mirror ?? process.env['PRESCIENT_DEBIAN_MIRROR'] ?? 'http://deb.debian.org/debian';
    const url = `${mirror.replace(/\/$/, '')}/dists/${options.codename}/${distsPath}`;
    try {
      await download(url, file, options.signal);
    } catch (e) {
      if (age === Infinity) throw e;
    }
  }
  return file;
}

async function download(url: string, file: string, signal?: AbortSignal): Promise<void> {
  const res = await fetch(url, { ...(signal ? { signal } : {}) });
  if (!res.ok) throw new ExternalToolError('fetch', [url], res.status, `the archive answered ${res.status} ${res.statusText}`);
  const body = Buffer.from(await res.arrayBuffer());
  await mkdir(join(file, '..'), { recursive: true });
  // Write-then-rename: a reader never sees half a file.
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, body);
    await rename(tmp, file);
  } finally {
    await rm(tmp, { force: true });
  }
}
