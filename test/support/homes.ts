import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { paths } from '../../src/core/config.js';
import { testHome, testPaths } from './images.js';

/** What a test's home may take from the test run's shared home instead of making its own. */
export type SharedPart = 'bases' | 'layers' | 'cache';

export interface TestHomes<N extends string> {
  /** The folder the homes are in (under the test home); remove() takes it all. */
  dir: string;
  homes: Record<N, string>;
  remove(): Promise<void>;
}

/**
 * Homes standing in for several machines (an API server's, a worker's…) in one folder under the
 * test home: the bases' file system, so layers and registered blobs are hard links, not copies.
 * Each home links the parts of the test run's home named in `share` (the base, the layer cache,
 * the apt cache: what is slow to make); the rest — store, registry, secrets — is its own.
 */
export async function testHomes<const N extends string>(input: { prefix: string; names: readonly N[]; share?: readonly SharedPart[] }): Promise<TestHomes<N>> {
  const shared = testPaths();
  await mkdir(testHome(), { recursive: true });
  const dir = await mkdtemp(join(testHome(), `${input.prefix}-`));
  const homes = {} as Record<N, string>;
  const share = new Set(input.share ?? []);
  if (share.has('cache')) await mkdir(join(shared.home, 'cache'), { recursive: true });
  if (share.has('layers')) await mkdir(shared.layers, { recursive: true });
  for (const name of input.names) {
    const home = join(dir, name);
    await mkdir(home, { recursive: true });
    if (share.has('bases')) await symlink(shared.bases, paths(home).bases);
    if (share.has('layers')) await symlink(shared.layers, paths(home).layers);
    if (share.has('cache')) await symlink(join(shared.home, 'cache'), join(home, 'cache'));
    homes[name] = home;
  }
  return { dir, homes, remove: () => rm(dir, { recursive: true, force: true }) };
}
