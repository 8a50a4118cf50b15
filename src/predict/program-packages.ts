import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseOsRelease } from '../image/facts.js';
import { archivePackageIndex } from './archive-package-index.js';
import { buildPackageIndex, installedPackages, layeredPackageIndex, type PackageIndex } from './package-index.js';

/**
 * Programs → packages: a root's own dpkg lists first, then the archive's Contents index of its
 * release (a predicted or missed program is usually not installed there), which prefers the
 * root's installed packages where several ship a program. Offline, or with
 * `archive: false`, the lists alone; `warn` hears why the archive's index was not used.
 */
export async function programPackages(options: { root: string; archive: boolean; cacheDir: string; signal?: AbortSignal; warn?: (message: string) => void }): Promise<PackageIndex> {
  const installed = await buildPackageIndex(options.root);
  if (!options.archive) return installed;
  const os = parseOsRelease(await readFile(join(options.root, 'etc/os-release'), 'utf8').catch(() => ''));
  const codename = os['VERSION_CODENAME'];
  if (!codename || os['ID'] !== 'debian') return installed;
  try {
    const archive = await archivePackageIndex({ codename, cacheDir: options.cacheDir, installed: await installedPackages(options.root), ...(options.signal ? { signal: options.signal } : {}) });
    return layeredPackageIndex(installed, archive);
  } catch (e) {
    options.warn?.(`the archive's Contents index is unavailable (${(e as Error).message}); using installed packages only`);
    return installed;
  }
}
