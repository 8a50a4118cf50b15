import { createReadStream } from 'node:fs';
import { access, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { ExternalToolError, ValidationError } from '../core/errors.js';
import { packageIndexFrom, type PackageIndex } from './package-index.js';

/**
 * Program name → Debian package for every package of the archive, not just the installed ones:
 * the distribution's `Contents-<arch>.gz` index (what apt-file searches). A program a client
 * launches is usually not installed on the base image — that is why it is predicted — so the
 * base image's own dpkg lists cannot name its package; the archive's index can.
 *
 * The file (about 12 MB for bookworm main) is downloaded once into `cacheDir` and refreshed
 * after `maxAgeMs`; a failed refresh keeps using the cached copy.
 */
export interface ArchiveIndexOptions {
  /** Release codename, from the base image's os-release (`bookworm`). */
  codename: string;
  architecture?: string;
  mirror?: string;
  cacheDir: string;
  maxAgeMs?: number;
  signal?: AbortSignal;
}

const binDirs = new Set(['bin', 'sbin', 'usr/bin', 'usr/sbin', 'usr/games']);

export async function archivePackageIndex(options: ArchiveIndexOptions): Promise<PackageIndex> {
  const arch = options.architecture ?? 'amd64';
  return parseContents(await cachedArchiveFile(options, `main/Contents-${arch}.gz`, `${options.codename}-main-Contents-${arch}.gz`));
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

/** Lines are `path<spaces>section/package[,section/package…]`; paths have no leading slash. */
export async function parseContents(file: string): Promise<PackageIndex> {
  await access(file).catch(() => {
    throw new ValidationError('contents', `cannot read ${file}`);
  });
  const map = new Map<string, string>();
  const lines = createInterface({ input: createReadStream(file).pipe(createGunzip()), crlfDelay: Infinity });
  for await (const line of lines) {
    const gap = line.search(/\s+\S+$/);
    if (gap <= 0) continue;
    const path = line.slice(0, gap);
    const slash = path.lastIndexOf('/');
    if (slash <= 0 || !binDirs.has(path.slice(0, slash))) continue;
    const program = path.slice(slash + 1);
    const first = line.slice(gap).trim().split(',')[0]!;
    const pkg = first.slice(first.lastIndexOf('/') + 1);
    // /usr/bin wins over /bin when both exist (usrmerge); first seen otherwise.
    if (!map.has(program) || path.startsWith('usr/bin/')) map.set(program, pkg);
  }
  return packageIndexFrom(Object.fromEntries(map));
}
