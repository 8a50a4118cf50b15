import { findBase, listBases } from '../image/bases/catalog.js';
import { recipeKey } from '../image/bases/build.js';
import { baseRecipeNames, recipeFor } from '../image/bases/recipes.js';
import type { BaseRef } from '../pipeline/personalize.js';
import type { ExternalRegistry } from '../registry/external-registry.js';

/**
 * Base name → base image, as the workflow's `resolveBase`: the catalogue of `basesDir`, and with
 * a shared registry, a recipe's current base that is not here is fetched from it first (a
 * worker on a new machine starts from the very base file the others built on, so their layers
 * stack on it). Imported bases are only ever local.
 */
export function sharedBaseResolver(input: { basesDir: string; external?: ExternalRegistry }): (name: string) => Promise<BaseRef & { name: string }> {
  const { basesDir, external } = input;
  return async (name) => {
    if (external && (baseRecipeNames as readonly string[]).includes(name)) {
      const key = recipeKey(recipeFor(name));
      if (!(await listBases(basesDir)).some((b) => b.name === name && b.key === key)) await external.fetchBase({ name, key, basesDir });
    }
    return findBase(basesDir, name);
  };
}
