import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, test } from 'node:test';
import { archivePackageIndex, parseContents } from './archive-package-index.js';
import { layeredPackageIndex, packageIndexFrom } from './package-index.js';

const dir = await mkdtemp(join(tmpdir(), 'prescient-contents-'));
after(() => rm(dir, { recursive: true, force: true }));

test('Contents lines map programs in bin folders to their package; /usr/bin wins, the first of a list counts', async () => {
  const file = join(dir, 'Contents-amd64.gz');
  const text = [
    'bin/busybox                                             utils/busybox',
    'usr/bin/busybox                                         utils/busybox-static',
    'usr/sbin/nginx                                          httpd/nginx',
    'usr/bin/psql                                            database/postgresql-client-common,database/postgresql-client-15',
    'usr/share/doc/nginx/copyright                           httpd/nginx',
    'usr/lib/postgresql/15/bin/postgres                      database/postgresql-15',
    'usr/bin/a program with spaces                           misc/odd',
  ].join('\n');
  await writeFile(file, gzipSync(text));
  const index = await parseContents(file);
  assert.equal(index.packageOf('nginx'), 'nginx');
  assert.equal(index.packageOf('busybox'), 'busybox-static');
  assert.equal(index.packageOf('psql'), 'postgresql-client-common');
  assert.equal(index.packageOf('copyright'), undefined, 'only programs in bin folders');
  assert.equal(index.packageOf('postgres'), undefined);
  assert.equal(index.packageOf('a program with spaces'), 'odd');
  // The base image's own lists are asked first.
  const layered = layeredPackageIndex(packageIndexFrom({ nginx: 'nginx-light' }), index);
  assert.equal(layered.packageOf('nginx'), 'nginx-light');
  assert.equal(layered.packageOf('psql'), 'postgresql-client-common');
});

const reachable = await fetch('http://deb.debian.org/debian/dists/bookworm/Release', { method: 'HEAD', signal: AbortSignal.timeout(10_000) }).then((r) => r.ok, () => false);

test("the archive's index of bookworm names packages that are not installed here", { skip: !reachable && 'deb.debian.org is not reachable' }, async () => {
  const cacheDir = join(dir, 'cache');
  const index = await archivePackageIndex({ codename: 'bookworm', cacheDir });
  assert.equal(index.packageOf('nginx'), 'nginx');
  assert.equal(index.packageOf('redis-server'), 'redis-server');
  assert.ok(index.size > 20_000, `${index.size} programs`);
  // Cached: a second call does not download again.
  const before = (await stat(join(cacheDir, 'bookworm-main-Contents-amd64.gz'))).mtimeMs;
  await archivePackageIndex({ codename: 'bookworm', cacheDir });
  assert.equal((await stat(join(cacheDir, 'bookworm-main-Contents-amd64.gz'))).mtimeMs, before);
  await assert.rejects(archivePackageIndex({ codename: 'Bookworm; rm', cacheDir }), /codename/);
});
