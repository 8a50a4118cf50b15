import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Program name → Debian package, built from the distribution's own data: the file lists dpkg
 * keeps for every installed package (`var/lib/dpkg/info/<pkg>.list`, what `dpkg -S` searches).
 * Point `root` at a mounted base image to index that image; the default indexes this machine,
 * which runs the same distribution as our default base image.
 */
export interface PackageIndex {
  packageOf(program: string): string | undefined;
  readonly size: number;
}

const binDirs = new Set(['/bin', '/sbin', '/usr/bin', '/usr/sbin', '/usr/games', '/usr/local/bin']);

export async function buildPackageIndex(root = '/'): Promise<PackageIndex> {
  const map = new Map<string, string>();
  for (const { pkg, file } of await dpkgLists(root)) {
    const text = await readFile(file, 'utf8');
    for (const path of text.split('\n')) {
      const slash = path.lastIndexOf('/');
      if (slash <= 0 || !binDirs.has(path.slice(0, slash))) continue;
      const program = path.slice(slash + 1);
      // /usr/bin wins over /bin when both exist (usrmerge); first seen otherwise.
      if (!map.has(program) || path.startsWith('/usr/bin/')) map.set(program, pkg);
    }
  }
  return fromEntries(map);
}

/** The packages installed under `root`: those dpkg keeps a file list of. */
export async function installedPackages(root = '/'): Promise<Set<string>> {
  return new Set((await dpkgLists(root)).map((l) => l.pkg));
}

/** dpkg's file list of each installed package (`<pkg>[:<arch>].list`). */
async function dpkgLists(root: string): Promise<{ pkg: string; file: string }[]> {
  const infoDir = join(root, 'var/lib/dpkg/info');
  const names = await readdir(infoDir).catch(() => [] as string[]);
  return names.filter((n) => n.endsWith('.list')).map((n) => ({ pkg: n.slice(0, -5).split(':')[0]!, file: join(infoDir, n) }));
}

export function packageIndexFrom(entries: Record<string, string>): PackageIndex {
  return fromEntries(new Map(Object.entries(entries)));
}

function fromEntries(map: Map<string, string>): PackageIndex {
  return { packageOf: (program) => map.get(program), size: map.size };
}

/** The first index that knows a program answers (e.g. the base image's own, then the archive's). */
export function layeredPackageIndex(...indexes: readonly PackageIndex[]): PackageIndex {
  return {
    packageOf: (program) => {
      for (const index of indexes) {
        const pkg = index.packageOf(program);
        if (pkg !== undefined) return pkg;
      }
      return undefined;
    },
    size: Math.max(0, ...indexes.map((i) => i.size)),
  };
}
