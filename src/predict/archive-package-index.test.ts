import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, test } from 'node:test';
import { archivePackageIndex, choosePackage, parseContents } from './archive-package-index.js';
import { packageSizesFrom } from './archive-package-sizes.js';
import { buildPackageIndex, installedPackages, layeredPackageIndex, packageIndexFrom } from './package-index.js';
import { programPackages } from './program-packages.js';

const dir = await mkdtemp(join(tmpdir(), 'prescient-contents-'));
after(() => rm(dir, { recursive: true, force: true }));

test('Contents lines map programs in bin folders to their package; the base image\'s own lists are asked first', async () => {
  const file = join(dir, 'Contents-amd64.gz');
  const text = [
    'usr/sbin/nginx                                          httpd/nginx',
    'usr/bin/psql                                            database/postgresql-client-common',
    'usr/share/doc/nginx/copyright                           httpd/nginx',
    'usr/lib/postgresql/15/bin/postgres                      database/postgresql-15',
    'usr/bin/a program with spaces                           misc/odd',
  ].join('\n');
  await writeFile(file, gzipSync(text));
  const index = await parseContents(file);
  assert.equal(index.packageOf('nginx'), 'nginx');
  assert.equal(index.packageOf('psql'), 'postgresql-client-common');
  assert.equal(index.packageOf('copyright'), undefined, 'only programs in bin folders');
  assert.equal(index.packageOf('postgres'), undefined);
  assert.equal(index.packageOf('a program with spaces'), 'odd');
  const layered = layeredPackageIndex(packageIndexFrom({ nginx: 'nginx-light' }), index);
  assert.equal(layered.packageOf('nginx'), 'nginx-light');
  assert.equal(layered.packageOf('psql'), 'postgresql-client-common');
});

test('a program several packages ship maps to the one named after it, else one the base carries, else the smallest; not the first listed', async () => {
  const file = join(dir, 'Contents-several.gz');
  // Contents lists packages alphabetically: the first listed is what the old rule took each time.
  const text = [
    'bin/busybox                                             utils/busybox',
    'usr/bin/busybox                                         utils/busybox-static',
    'usr/bin/ncat                                            net/ncat',
    'usr/bin/nc                                              net/netcat-openbsd,net/netcat-traditional',
    'usr/bin/convert                                         graphics/graphicsmagick-imagemagick-compat,graphics/imagemagick-6.q16',
    'usr/bin/mawk-like                                       interpreters/gawk,interpreters/mawk',
    'usr/bin/unsized                                         misc/b-unsized,misc/c-unsized,misc/a-unsized',
  ].join('\n');
  await writeFile(file, gzipSync(text));
  const sizes = packageSizesFrom({ busybox: 900_000, 'busybox-static': 2_000_000, 'netcat-openbsd': 100_000, 'netcat-traditional': 60_000, 'graphicsmagick-imagemagick-compat': 50_000, 'imagemagick-6.q16': 400_000, gawk: 3_000_000, mawk: 0 });
  const plain = await parseContents(file, { sizes });
  assert.equal(plain.packageOf('busybox'), 'busybox', 'the package named after the program, though /usr/bin/busybox is busybox-static');
  assert.equal(plain.packageOf('nc'), 'netcat-traditional', 'the smaller of the two');
  assert.equal(plain.packageOf('convert'), 'graphicsmagick-imagemagick-compat');
  assert.equal(plain.packageOf('mawk-like'), 'mawk', 'a required package costs nothing');
  assert.equal(plain.packageOf('unsized'), 'a-unsized', 'no size known: the alphabet, not the order of the line');
  const onBase = await parseContents(file, { sizes, installed: new Set(['netcat-openbsd', 'imagemagick-6.q16', 'busybox-static']) });
  assert.equal(onBase.packageOf('nc'), 'netcat-openbsd', 'already in the base image: nothing to add');
  assert.equal(onBase.packageOf('convert'), 'imagemagick-6.q16');
  assert.equal(onBase.packageOf('busybox'), 'busybox', 'the name still comes first');
  assert.equal(onBase.packageOf('ncat'), 'ncat');
  assert.equal(choosePackage('x', []), undefined);
  assert.equal(choosePackage('x', ['b', 'a']), 'a');
});

const reachable = await fetch('http://deb.debian.org/debian/dists/bookworm/Release', { method: 'HEAD', signal: AbortSignal.timeout(10_000) }).then((r) => r.ok, () => false);

test("the archive's index of bookworm names packages that are not installed here", { skip: !reachable && 'deb.debian.org is not reachable' }, async () => {
  const cacheDir = join(dir, 'cache');
  const index = await archivePackageIndex({ codename: 'bookworm', cacheDir });
  assert.equal(index.packageOf('nginx'), 'nginx');
  assert.equal(index.packageOf('redis-server'), 'redis-server');
  assert.equal(index.packageOf('busybox'), 'busybox', 'not busybox-static, listed first for /usr/bin/busybox');
  assert.ok(index.size > 20_000, `${index.size} programs`);
  // Cached: a second call does not download again.
  const before = (await stat(join(cacheDir, 'bookworm-main-Contents-amd64.gz'))).mtimeMs;
  await archivePackageIndex({ codename: 'bookworm', cacheDir });
  assert.equal((await stat(join(cacheDir, 'bookworm-main-Contents-amd64.gz'))).mtimeMs, before);
  await assert.rejects(archivePackageIndex({ codename: 'Bookworm; rm', cacheDir }), /codename/);
});

test("a root's programs: its own dpkg lists first, then the archive's index preferring the root's packages", async () => {
  const root = join(dir, 'root');
  const info = join(root, 'var/lib/dpkg/info');
  await mkdir(info, { recursive: true });
  await mkdir(join(root, 'etc'), { recursive: true });
  await writeFile(join(root, 'etc/os-release'), 'ID=debian\nVERSION_CODENAME=bookworm\n');
  await writeFile(join(info, 'coreutils.list'), '/usr\n/usr/bin\n/usr/bin/ls\n/usr/share/doc/coreutils\n');
  await writeFile(join(info, 'netcat-openbsd:amd64.list'), '/usr/share/doc/netcat-openbsd\n');
  await writeFile(join(info, 'coreutils.md5sums'), '');
  assert.deepEqual([...(await installedPackages(root))].sort(), ['coreutils', 'netcat-openbsd']);
  assert.equal((await buildPackageIndex(root)).packageOf('ls'), 'coreutils');
  // The release's indexes, fresh in the cache: nothing is downloaded.
  const cacheDir = join(dir, 'root-cache');
  await mkdir(cacheDir, { recursive: true });
  await writeFile(join(cacheDir, 'bookworm-main-Contents-amd64.gz'), gzipSync(['usr/bin/ls  utils/coreutils', 'usr/bin/nc  net/netcat-openbsd,net/netcat-traditional', 'usr/bin/fc  misc/big,misc/small'].join('\n')));
  await writeFile(join(cacheDir, 'bookworm-main-Packages-amd64.gz'), gzipSync(['Package: netcat-openbsd', 'Installed-Size: 100', '', 'Package: netcat-traditional', 'Installed-Size: 60', '', 'Package: big', 'Installed-Size: 900', '', 'Package: small', 'Installed-Size: 9', ''].join('\n')));
  const index = await programPackages({ root, archive: true, cacheDir });
  assert.equal(index.packageOf('ls'), 'coreutils');
  assert.equal(index.packageOf('nc'), 'netcat-openbsd', 'the base carries it: the smaller netcat-traditional would be a package more');
  assert.equal(index.packageOf('fc'), 'small');
});
