// Issue 19 item 4 benchmark: software as a set for the image, on Schonlau's 25 users.
//   Packages an image made at an origin should carry for the next "day" (100 launches) and "week"
//   (700): coverage = share of those launches whose program's package the image carries, against
//   the mean bytes per image (the archive's Installed-Size; required packages cost nothing).
//   Policies: the set predictor (settings and threshold chosen on commands 2,001–4,000), the
//   packages of the k most frequent programs, every package ever seen. Test: commands 4,001–5,000.
//   Prints the curve per horizon and both gaps to every package seen at half its bytes.
//   The archive's Contents and Packages indexes are downloaded once into the package cache.
//   bash scripts/bench software-set
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { paths } from '../src/core/config.js';
import { archivePackageIndex } from '../src/predict/archive-package-index.js';
import { archivePackageSizes } from '../src/predict/archive-package-sizes.js';
import { datasetHistory } from '../src/predict/dataset-history.js';
import { evaluatePackageSets } from '../src/predict/package-set/evaluate-package-set.js';
import { renderPackageSets } from '../src/predict/package-set/render-package-sets.js';
import { datasetPath } from '../test/support/datasets.js';

const folder = datasetPath('schonlau');
if (!existsSync(folder)) {
  console.log(`software-set: skipped, ${folder} is absent (the shared datasets)`);
} else {
  const cacheDir = join(paths().packageCache, 'contents');
  const sizes = await archivePackageSizes({ codename: 'bookworm', cacheDir });
  const index = await archivePackageIndex({ codename: 'bookworm', cacheDir, sizes });
  const history = datasetHistory({ path: folder, format: 'commands' });
  const sequences: string[][] = [];
  for (const s of await history.subjects()) sequences.push((await history.launches(s.id)).map((e) => e.program));
  const times: number[] = [];
  let report: ReturnType<typeof evaluatePackageSets> | undefined;
  for (let run = 0; run < 3; run++) {
    const started = performance.now();
    report = evaluatePackageSets({ sequences, packageOf: (p) => index.packageOf(p), bytesOf: (p) => sizes.bytesOf(p), trainItems: 4000, testItems: 1000, validationFrom: 2000, stride: 100 });
    times.push(performance.now() - started);
  }
  console.log(renderPackageSets(report!));
  console.log(`evaluation (validation of ${report!.horizons[0]!.validation.length} settings per horizon + test): median ${times.sort((a, b) => a - b)[1]!.toFixed(0)} ms over 3 runs`);
}
