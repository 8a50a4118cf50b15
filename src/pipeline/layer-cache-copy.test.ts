import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { paths } from '../core/config.js';
import { run } from '../core/exec.js';
import type { BaseImage } from '../image/bases/build.js';
import { withImageSession } from '../image/open.js';
import { fileModule } from '../../test/support/file-module.js';
import { testHomes, type TestHomes } from '../../test/support/homes.js';
import { debianBase } from '../../test/support/images.js';
import { webDbVector } from '../../test/support/vectors.js';
import { LayerCache } from './layer-cache.js';
import { personalize, type PersonalizeReport } from './personalize.js';
import { assemblePipeline } from './plan.js';

/**
 * A layer cache copied (`cp -a`) or moved with its home keeps working there: its records name
 * its own files, so the next build reuses every layer, the image it makes is backed by the new
 * home's files only (the chain check, opened with the new home's runtime, accepts it), and the
 * old home can be gone. Records written with absolute paths (before they were relative) too.
 */
const motd = fileModule({ id: 'motd', path: '/etc/motd', content: (v) => `copied ${v.subject.clientId}\n`, mode: 0o644 });
const issue = fileModule({ id: 'issue', path: '/etc/issue.prescient', content: 'second layer\n' });

describe('a copied layer cache', () => {
  let base: BaseImage;
  let homes: TestHomes<'a'>;
  let root: string;
  before(async () => {
    base = await debianBase();
    homes = await testHomes({ prefix: 'layer-copy', names: ['a'] });
    root = homes.dir;
  });
  after(async () => {
    await homes?.remove();
  });

  const build = (home: string): Promise<PersonalizeReport> =>
    personalize({ base, vector: webDbVector(), pipeline: assemblePipeline({ modules: [motd, issue] }), outDir: join(home, 'out'), layersDir: paths(home).layers, runtimeDir: paths(home).runtime });
  const readGuest = (home: string, image: string, path: string): Promise<string> =>
    withImageSession(image, { runtimeDir: paths(home).runtime, readOnly: true }, async (s) => (await s.readFile(path)).toString());
  const records = async (home: string): Promise<string[]> => (await readdir(paths(home).layers)).filter((n) => /^[0-9a-f]{64}\.json$/.test(n)).map((n) => join(paths(home).layers, n));
  const assertInside = (home: string, report: PersonalizeReport): void => {
    for (const l of report.layers) assert.ok(!relative(paths(home).layers, l).startsWith('..'), `${l} is in ${home}'s layer cache`);
  };

  test('copied with cp -a, the original removed: every layer is reused from the copy and the image opens', async () => {
    const a = homes.homes.a;
    const first = await build(a);
    assert.deepEqual(first.modules.map((m) => m.outcome), ['built', 'built']);
    for (const f of await records(a)) {
      const stored = JSON.parse(await readFile(f, 'utf8')) as { path: string; parentPath: string };
      assert.ok(!stored.path.startsWith('/') && !stored.parentPath.startsWith('/'), `${f} names its files relative to the cache: ${stored.path}, ${stored.parentPath}`);
    }
    const b = join(root, 'b');
    await mkdir(b);
    await run('cp', ['-a', paths(a).layers, paths(b).layers]);
    await rm(a, { recursive: true, force: true });

    const copied = await build(b);
    assert.deepEqual(copied.modules.map((m) => m.outcome), ['reused', 'reused']);
    assertInside(b, copied);
    assert.equal(await readGuest(b, copied.outputs.disk!, '/etc/motd'), 'copied acme-1\n');
    assert.equal(await readGuest(b, copied.outputs.disk!, '/etc/issue.prescient'), 'second layer\n');
  });

  test('records of the old form (absolute paths into the home they came from) are read at their new place', async () => {
    const b = join(root, 'b');
    // as the cache wrote them before: absolute paths, here into b
    for (const f of await records(b)) {
      const stored = JSON.parse(await readFile(f, 'utf8')) as { path: string; parentPath: string };
      await writeFile(f, JSON.stringify({ ...stored, path: join(paths(b).layers, stored.path), parentPath: join(paths(b).layers, stored.parentPath) }));
    }
    const c = join(root, 'c');
    await rename(b, c); // moved: b's paths name nothing now
    const cache = new LayerCache(paths(c).layers);
    const listed = await cache.list();
    assert.equal(listed.length, 2);
    for (const r of listed) assert.ok(r.path.startsWith(`${paths(c).layers}/sha256/`) && r.parentPath.startsWith(`${paths(c).layers}/sha256/`), `${r.module}: ${r.path}, ${r.parentPath}`);

    const moved = await build(c);
    assert.deepEqual(moved.modules.map((m) => m.outcome), ['reused', 'reused']);
    assertInside(c, moved);
    assert.equal(await readGuest(c, moved.outputs.disk!, '/etc/issue.prescient'), 'second layer\n');
  });
  test('a parent built again (its file lost) is not a parent to the children built on the old one: they are built again on it', async () => {
    const c = join(root, 'c');
    const cache = new LayerCache(paths(c).layers);
    const before = await cache.list();
    const parent = before.find((r) => r.module === 'motd')!;
    await rm(join(paths(c).layers, `${parent.key}.json`));
    await rm(parent.path, { force: true });
    const again = await build(c);
    const rebuilt = (await cache.list()).find((r) => r.module === 'motd')!;
    assert.equal(again.modules[0]!.outcome, 'built');
    // layers are not byte-reproducible; when this one came out the same, its child is still its child
    assert.equal(again.modules[1]!.outcome, rebuilt.digest === parent.digest ? 'reused' : 'built', `motd ${parent.digest} → ${rebuilt.digest}`);
    assert.equal(await readGuest(c, again.outputs.disk!, '/etc/issue.prescient'), 'second layer\n');
  });
});
