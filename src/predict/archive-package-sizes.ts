import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { ValidationError } from '../core/errors.js';
import { cachedArchiveFile, type ArchiveIndexOptions } from './cached-archive-file.js';

/**
 * What a package costs an image: its `Installed-Size` in the archive's `Packages` index of the
 * release (the package's own files; what it depends on is not added). Packages of priority
 * `required` cost nothing, because every Debian image already carries them (debootstrap's
 * minbase is that set), so no image is charged for `ls` or `sh`.
 */
export interface PackageSizes {
  /** Bytes an image adds to carry `pkg`: 0 for a required package; undefined when unknown. */
  bytesOf(pkg: string): number | undefined;
  readonly size: number;
}

export async function archivePackageSizes(options: ArchiveIndexOptions): Promise<PackageSizes> {
  const arch = options.architecture ?? 'amd64';
  return parsePackagesIndex(await cachedArchiveFile(options, `main/binary-${arch}/Packages.gz`, `${options.codename}-main-Packages-${arch}.gz`));
}

export function packageSizesFrom(bytes: Record<string, number>): PackageSizes {
  const map = new Map(Object.entries(bytes));
  return { bytesOf: (pkg) => map.get(pkg), size: map.size };
}

/** Stanzas of `Field: value` lines separated by blank lines; continuation lines start with a space. */
export async function parsePackagesIndex(file: string): Promise<PackageSizes> {
  await access(file).catch(() => {
    throw new ValidationError('packages', `cannot read ${file}`);
  });
  const map = new Map<string, number>();
  let name: string | undefined;
  let kib: number | undefined;
  let required = false;
  const flush = (): void => {
    if (name !== undefined && kib !== undefined && !map.has(name)) map.set(name, required ? 0 : kib * 1024);
    name = undefined;
    kib = undefined;
    required = false;
  };
  const lines = createInterface({ input: createReadStream(file).pipe(createGunzip()), crlfDelay: Infinity });
  for await (const line of lines) {
    if (line === '') flush();
    else if (line.startsWith('Package: ')) name = line.slice(9).trim();
    else if (line.startsWith('Installed-Size: ')) {
      const v = Number(line.slice(16).trim());
      if (Number.isFinite(v) && v >= 0) kib = v;
    } else if (line.startsWith('Priority: ')) required = line.slice(10).trim() === 'required';
  }
  flush();
  return { bytesOf: (pkg) => map.get(pkg), size: map.size };
}
