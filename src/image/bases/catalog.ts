import { readdir, realpath, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { NotFoundError } from '../../core/errors.js';
import { readBase, recipeKey, type BaseImage } from './build.js';
import { baseRecipeNames, recipeFor } from './recipes.js';

/** The base images on this machine: each is `<name>-<key>.qcow2` with its record beside it. */
export async function listBases(basesDir: string): Promise<Omit<BaseImage, 'cached'>[]> {
  const names = await readdir(basesDir).catch(() => [] as string[]);
  const out: Omit<BaseImage, 'cached'>[] = [];
  for (const n of names.filter((x) => x.endsWith('.json')).sort()) {
    const b = await readBase(join(basesDir, n));
    if (b) out.push(b);
  }
  return out;
}

/**
 * `outdated`: a base this version of Prescient would build differently, its recipe's steps
 * having changed (a new revision, other packages), the machine's own choices (mirror, expired
 * releases) aside. It stays usable, and a recipe name resolves to the newest such base until
 * the current one is built. `imported`: not built from a recipe.
 */
export function baseStatus(b: Pick<BaseImage, 'name' | 'recipe'>): 'current' | 'outdated' | 'imported' {
  if (!b.recipe) return 'imported';
  if (!(baseRecipeNames as readonly string[]).includes(b.name)) return 'current';
  const now = recipeFor(b.name, { mirror: b.recipe.mirror, acceptExpiredRelease: b.recipe.acceptExpiredRelease });
  return recipeKey(now) === recipeKey(b.recipe) ? 'current' : 'outdated';
}

/** The names whose every base here is outdated, so that images start from an outdated one: what `serve` warns of. */
export function namesOnOutdatedBases(all: readonly Pick<BaseImage, 'name' | 'recipe'>[]): string[] {
  const recipeBuilt = all.filter((b) => baseStatus(b) !== 'imported');
  return [...new Set(recipeBuilt.map((b) => b.name))].filter((name) => recipeBuilt.every((b) => b.name !== name || baseStatus(b) === 'outdated'));
}

/** A reference that names a file rather than a base: it has a slash or an image extension. */
export function isBasePath(ref: string): boolean {
  return ref.includes('/') || /\.(qcow2|img|raw)$/i.test(ref);
}

/** The catalogued base whose image is this file (any spelling of its path), or that was imported from it. */
async function baseAtPath(all: Omit<BaseImage, 'cached'>[], ref: string): Promise<Omit<BaseImage, 'cached'> | undefined> {
  const real = await realpath(ref).catch(() => resolve(ref));
  for (const b of all) {
    const candidates = [b.path, ...(b.source ? [b.source] : [])];
    for (const c of candidates) if ((await realpath(c).catch(() => resolve(c))) === real) return b;
  }
  return undefined;
}

/**
 * A base by name-key, by path, or by name: for a recipe name (`debian-12`) the base of the
 * current recipe, else the newest base of that name. A path matches the base stored there or
 * imported from there (relative or absolute, through symlinks).
 */
export async function findBase(basesDir: string, ref: string): Promise<Omit<BaseImage, 'cached'>> {
  const all = await listBases(basesDir);
  if (isBasePath(ref)) {
    const atPath = await baseAtPath(all, ref);
    if (atPath) return atPath;
    throw new NotFoundError(`no base image at ${ref}; import it first with 'prescient base import ${ref}', or see 'prescient base ls'`, { field: 'base', rule: 'base-image', path: ref });
  }
  const byName = all.filter((b) => b.name === ref);
  const currentKey = (baseRecipeNames as readonly string[]).includes(ref) ? recipeKey(recipeFor(ref)) : undefined;
  const newest = async (): Promise<Omit<BaseImage, 'cached'> | undefined> => {
    const withTimes = await Promise.all(byName.map(async (b) => ({ b, t: (await stat(b.path)).mtimeMs })));
    return withTimes.sort((x, y) => y.t - x.t)[0]?.b;
  };
  const hit =
    all.find((b) => b.path === ref || `${b.name}-${b.key}` === ref) ??
    (currentKey ? byName.find((b) => b.key === currentKey) : undefined) ??
    (await newest());
  // The field is named so an HTTP answer (POST /v1/requests names a base) says what to fix too.
  if (!hit) throw new NotFoundError(`no base image ${JSON.stringify(ref)}; build one with 'prescient base build debian-12' or import one`, { field: 'base', rule: 'base-image' });
  return hit;
}
