import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { ValidationError } from '../core/errors.js';
import { archivePackageSizes, type PackageSizes } from './archive-package-sizes.js';
import { cachedArchiveFile, type ArchiveIndexOptions } from './cached-archive-file.js';
import { packageIndexFrom, type PackageIndex } from './package-index.js';

/**
 * Program name → Debian package for every package of the archive, not just the installed ones:
 * the distribution's `Contents-<arch>.gz` index (what apt-file searches). A program a client
 * launches is usually not installed on the base image — that is why it is predicted — so the
 * base image's own dpkg lists cannot name its package; the archive's index can.
 *
 * The file (about 12 MB for bookworm main) is downloaded once into `cacheDir` and refreshed
 * after `maxAgeMs`; a failed refresh keeps using the cached copy. Where several packages ship
 * a program, {@link choosePackage} picks one: `installed` (the base image's packages) and the
 * release's package sizes (`sizes`, else read from its `Packages` index) tell it how.
 */
export async function archivePackageIndex(options: ArchiveIndexOptions & { installed?: ReadonlySet<string>; sizes?: PackageSizes }): Promise<PackageIndex> {
  const arch = options.architecture ?? 'amd64';
  const [file, sizes] = await Promise.all([
    cachedArchiveFile(options, `main/Contents-${arch}.gz`, `${options.codename}-main-Contents-${arch}.gz`),
    options.sizes ?? archivePackageSizes(options),
  ]);
  return parseContents(file, { sizes, ...(options.installed ? { installed: options.installed } : {}) });
}

/** What {@link choosePackage} weighs beside the names: without it, names and then the alphabet decide. */
export interface PackageChoice {
  /** Packages the base image already carries. */
  installed?: ReadonlySet<string>;
  sizes?: PackageSizes;
}

/**
 * Of the packages that ship `program`, the one a user would install for it: the package named
 * after the program (`busybox`, not `busybox-static`), else one the base image already carries
 * (nothing to add), else the smallest by installed size (a package of unknown size after
 * those of known size), the alphabet breaking ties.
 */
export function choosePackage(program: string, candidates: Iterable<string>, choice: PackageChoice = {}): string | undefined {
  const rank = (pkg: string): number[] => [pkg === program ? 0 : 1, choice.installed?.has(pkg) ? 0 : 1, choice.sizes?.bytesOf(pkg) ?? Number.POSITIVE_INFINITY];
  const before = (a: { pkg: string; rank: number[] }, b: { pkg: string; rank: number[] }): boolean => {
    for (let i = 0; i < a.rank.length; i++) if (a.rank[i] !== b.rank[i]) return a.rank[i]! < b.rank[i]!;
    return a.pkg < b.pkg;
  };
  let best: { pkg: string; rank: number[] } | undefined;
  for (const pkg of candidates) {
    const next = { pkg, rank: rank(pkg) };
    if (!best || before(next, best)) best = next;
  }
  return best?.pkg;
}

const binDirs = new Set(['bin', 'sbin', 'usr/bin', 'usr/sbin', 'usr/games']);

/**
 * Lines are `path<spaces>section/package[,section/package…]`; paths have no leading slash. A
 * program's candidates are every package that ships it in any bin folder (`bin/` and `usr/bin/`
 * are one folder on a merged-/usr system).
 */
export async function parseContents(file: string, choice: PackageChoice = {}): Promise<PackageIndex> {
  await access(file).catch(() => {
    throw new ValidationError('contents', `cannot read ${file}`);
  });
  const candidates = new Map<string, Set<string>>();
  const lines = createInterface({ input: createReadStream(file).pipe(createGunzip()), crlfDelay: Infinity });
  for await (const line of lines) {
    const gap = line.search(/\s+\S+$/);
    if (gap <= 0) continue;
    const path = line.slice(0, gap);
    const slash = path.lastIndexOf('/');
    if (slash <= 0 || !binDirs.has(path.slice(0, slash))) continue;
    const program = path.slice(slash + 1);
    const known = candidates.get(program) ?? new Set<string>();
    for (const entry of line.slice(gap).trim().split(',')) known.add(entry.slice(entry.lastIndexOf('/') + 1));
    candidates.set(program, known);
  }
  return packageIndexFrom(Object.fromEntries([...candidates].map(([program, pkgs]) => [program, choosePackage(program, pkgs, choice)!])));
}
