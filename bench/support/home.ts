import { mkdtempSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { paths, type Paths } from '../../src/core/config.js';
import { buildDebianBase, type BaseImage } from '../../src/image/bases/build.js';
import { recipeFor } from '../../src/image/bases/recipes.js';

/**
 * The homes benchmarks run in, set up one way: the installation's own home (PRESCIENT_HOME)
 * holds what is slow to make — the Debian base, the apt cache, warm layers — and a benchmark's
 * homes link to it and keep their store, registry and secrets to themselves.
 */

/** The installation's home, with the Debian 12 base built there (or found: it is cached by recipe). */
export async function sharedHome(): Promise<{ paths: Paths; base: BaseImage }> {
  const p = paths();
  const base = await buildDebianBase(recipeFor('debian-12'), { basesDir: p.bases, runtimeDir: p.runtime });
  return { paths: p, base };
}

/** A scratch folder for a benchmark under `<home>/bench` (not /tmp, which others may sweep; on the bases' file system, so layers can be hard links). */
export async function benchDir(home: string, name: string): Promise<string> {
  await mkdir(join(home, 'bench'), { recursive: true });
  return mkdtemp(join(home, 'bench', `${name}-`));
}

/** An empty home of its own in /tmp, for benchmarks that open no image. */
export function tempHome(name: string): string {
  return mkdtempSync(join(tmpdir(), `prescient-bench-${name}-`));
}

/**
 * `dir` made a home that shares `shared`'s base and apt cache (symlinks), and, when given,
 * a layer cache and a registry folder; everything else in it is its own.
 */
export async function linkedHome(dir: string, shared: Paths, options: { layers?: string; registry?: string } = {}): Promise<string> {
  const p = paths(dir);
  await mkdir(dir, { recursive: true });
  await mkdir(join(shared.home, 'cache'), { recursive: true });
  await symlink(shared.bases, p.bases);
  await symlink(join(shared.home, 'cache'), join(dir, 'cache'));
  if (options.layers !== undefined) await symlink(options.layers, p.layers);
  if (options.registry !== undefined) await symlink(options.registry, p.registry);
  return dir;
}

/** The HTTP Basic header of `home`'s admin (its secret exists once serve or openPrescient opened the home). */
export function adminAuthorization(home: string): string {
  const secret = readFileSync(join(paths(home).secrets, 'admin.secret'), 'utf8').trim();
  return `Basic ${Buffer.from(`admin:${secret}`).toString('base64')}`;
}
