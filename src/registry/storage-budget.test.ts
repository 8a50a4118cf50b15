import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { link, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { paths } from '../core/config.js';
import { run } from '../core/exec.js';
import type { BaseImage } from '../image/bases/build.js';
import { measure } from '../image/qemu-img.js';
import { personalize } from '../pipeline/personalize.js';
import { parsePolicy } from '../policy/policy.js';
import { assemblePipeline } from '../pipeline/plan.js';
import { debianBase, testHome, testPaths } from '../../test/support/images.js';
import { openRegistry } from './registry.js';
import { categoryProfiles, profileVector, type CategoryProfile } from '../../test/support/category-profiles.js';

/**
 * Issue 16's storage acceptance: 20 clients in 4 categories, each with its own predicted size
 * (1–8 vCPUs, 1–16 GiB) and its own dataset, built and registered into one home; everything
 * under that home (the base, the layer cache, the registry) takes at most 10 % of 20 standalone
 * copies, as `qemu-img measure` sizes them. Heavy (four apt runs, forty small layers): a few
 * minutes. The apt download cache is the test home's, shared by every test, not this home's.
 */
const categories: Record<string, CategoryProfile> = categoryProfiles({ devSoftware: ['git'] });

let base: BaseImage;
let home: string;

before(async () => {
  base = await debianBase();
  await mkdir(testHome(), { recursive: true });
  home = await mkdtemp(join(testHome(), 'storage-'));
});
after(async () => {
  await rm(home, { recursive: true, force: true });
});

test('20 clients of 4 categories, each its own size and dataset: the home holds ≤ 10 % of 20 standalone copies', async (t) => {
  const hp = paths(home);
  await mkdir(hp.bases, { recursive: true });
  const homeBase = join(hp.bases, 'debian-12.qcow2');
  await link(base.path, homeBase);
  const registry = await openRegistry({ root: hp.registry });
  const names = Object.keys(categories);
  let standalone = 0;
  const specs = new Set<string>();
  // The clients' datasets are files of one folder the admin catalogued (vectors name them, never a host path).
  await mkdir(join(home, 'data'));
  const policy = parsePolicy({ datasets: [{ name: 'clients', kind: 'folder', path: join(home, 'data'), maxBytes: 1 << 20 }] });
  for (let k = 0; k < 20; k++) {
    const category = names[k % 4]!;
    const prof = categories[category]!;
    const vcpus = 1 + (k % 8);
    const memoryMiB = 1024 * (1 + ((k * 7) % 16));
    await writeFile(join(home, 'data', `client-${k}.bin`), randomBytes(256 * 1024));
    const vector = profileVector({
      profile: prof,
      category,
      clientId: `client-${k}`,
      resources: { vcpus, memoryMiB, diskGiB: 6, expectedP95CpuPercent: 40, expectedP95MemoryMiB: Math.round(memoryMiB / 2), diskReadKBps: 0, diskWriteKBps: 0, networkInKBps: 100, networkOutKBps: 100 },
      datasets: [{ source: `clients/client-${k}.bin`, destination: `/srv/data/client-${k}.bin`, sizeBytes: 256 * 1024 }],
    });
    const report = await personalize({
      base: { ...base, path: homeBase },
      vector,
      pipeline: assemblePipeline(),
      outDir: join(home, 'out', `client-${k}`),
      layersDir: hp.layers,
      runtimeDir: testPaths().runtime,
      packageCacheDir: testPaths().packageCache,
      policy,
    });
    assert.equal(report.spec.vcpus, vcpus);
    specs.add(`${report.spec.vcpus}/${report.spec.memoryMiB}`);
    // a client after the first of its category builds only its own data and sizing layers
    if (k >= 4) assert.deepEqual(report.modules.filter((m) => m.outcome === 'built').map((m) => m.id), ['data', 'sizing'], `client-${k}`);
    await registry.register({ repository: `clients/client-${k}`, layers: report.layers.map((path) => ({ path })), config: { vmSpec: report.spec } });
    standalone += (await measure(report.outputs.disk!)).required;
  }
  assert.ok(specs.size >= 10, `sizes differ: ${[...specs].join(', ')}`);
  // the per-request outputs (thin overlays, seeds) are not the home's
  await rm(join(home, 'out'), { recursive: true, force: true });
  const du = Number((await run('du', ['-sxB1', home])).stdout.split(/\s/)[0]);
  t.diagnostic(`home ${(du / 1024 ** 3).toFixed(2)} GiB, 20 standalone copies ${(standalone / 1024 ** 3).toFixed(2)} GiB: ${((du / standalone) * 100).toFixed(1)} %`);
  assert.ok(du <= 0.1 * standalone, `the home holds ${(du / 1024 ** 3).toFixed(2)} GiB, 20 standalone copies ${(standalone / 1024 ** 3).toFixed(2)} GiB (${((du / standalone) * 100).toFixed(1)} %)`);
  assert.equal((await registry.fsck()).ok, true);
});
