import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { paths } from '../../core/config.js';
import { prescient } from '../../../test/support/cli.js';
import { debianFacts } from '../../../test/support/debian-facts.js';
import { cliPath } from '../../../test/support/repo.js';
import { startServe } from '../../../test/support/serve.js';
import { tempDirs } from '../../../test/support/temp-dirs.js';
import { recipeKey } from './build.js';
import { recipeFor, type DebianRecipe } from './recipes.js';

/**
 * After an upgrade whose base recipe changed (revision 6 keeps host folders out of the ext4
 * journal), a home's base is the old one until it is built again, and requests start from it.
 * `base ls` and `serve` say so. The records are what a build writes; the image files need only
 * exist for these commands.
 */
const newDir = tempDirs('prescient-outdated-');

async function addBase(home: string, recipe: DebianRecipe | undefined, name = 'debian-12'): Promise<string> {
  const bases = paths(home).bases;
  await mkdir(bases, { recursive: true });
  const key = recipe ? recipeKey(recipe) : '1111111111111111';
  const path = join(bases, `${name}-${key}.qcow2`);
  await writeFile(path, '');
  await writeFile(join(bases, `${name}-${key}.json`), JSON.stringify({ name, key, path, facts: { ...debianFacts([]), image: path }, ...(recipe ? { recipe } : {}) }));
  return `${name}-${key}`;
}

const current = recipeFor('debian-12');
const older: DebianRecipe = { ...current, revision: current.revision - 1 };

test('base ls marks a base of an older recipe outdated and names the command that builds the current one; imported bases are neither', async () => {
  const home = await newDir();
  const old = await addBase(home, older);
  const imported = await addBase(home, undefined, 'cloud');
  const listed = await prescient(home, ['base', 'ls']);
  assert.equal(listed.code, 0, listed.stderr);
  assert.deepEqual(
    (listed.json as { name: string; key: string; status: string }[]).map((b) => [`${b.name}-${b.key}`, b.status]).sort(),
    [[imported, 'imported'], [old, 'outdated']].sort(),
  );
  const text = await promisify(execFile)(process.execPath, [cliPath, 'base', 'ls'], { env: { ...process.env, PRESCIENT_HOME: home } });
  assert.match(text.stdout, /outdated/);
  assert.match(text.stdout, /debian-12: every base of this name was built by an older recipe.*'prescient base build debian-12'/);

  const now = await addBase(home, current);
  const again = await prescient(home, ['base', 'ls']);
  assert.deepEqual((again.json as { name: string; key: string; status: string }[]).filter((b) => b.name === 'debian-12').map((b) => [`${b.name}-${b.key}`, b.status]).sort(), [[now, 'current'], [old, 'outdated']].sort());
});

test("a base built with another mirror is not outdated: the machine's own choices are not the recipe's steps", async () => {
  const home = await newDir();
  await addBase(home, recipeFor('debian-12', { mirror: 'http://127.0.0.1:9/debian' }));
  const listed = await prescient(home, ['base', 'ls']);
  assert.deepEqual((listed.json as { status: string }[]).map((b) => b.status), ['current']);
});

test('serve warns at start when the base a recipe name resolves to is outdated, and not once the current one is there', async () => {
  const home = await newDir();
  await addBase(home, older);
  const server = await startServe(home);
  try {
    const until = Date.now() + 10_000;
    while (!server.stderr().includes('warning: every') && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    assert.match(server.stderr(), /warning: every debian-12 base here was built by an older recipe.*'prescient base build debian-12'/);
  } finally {
    await server.stop();
  }
  await addBase(home, current);
  const again = await startServe(home);
  try {
    const health = await fetch(`${again.base}/healthz`);
    assert.equal(health.status, 200);
    assert.doesNotMatch(again.stderr(), /warning: every/);
  } finally {
    await again.stop();
  }
});
