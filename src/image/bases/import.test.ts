import assert from 'node:assert/strict';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ValidationError } from '../../core/errors.js';
import { makeImageFromTree, scratchDir } from '../../../test/support/images.js';
import { createOverlay } from '../qemu-img.js';
import { listBases } from './catalog.js';
import { importBase } from './import.js';

let work: Awaited<ReturnType<typeof scratchDir>>;
let raw: string;

before(async () => {
  work = await scratchDir();
  const tree = join(work.dir, 'tree');
  await mkdir(join(tree, 'etc'), { recursive: true });
  await mkdir(join(tree, 'bin'));
  await mkdir(join(tree, 'var/lib/dpkg'), { recursive: true });
  await writeFile(join(tree, 'etc/os-release'), 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n');
  await copyFile('/bin/dash', join(tree, 'bin/sh'));
  await writeFile(
    join(tree, 'var/lib/dpkg/status'),
    'Package: bash\nStatus: install ok installed\nArchitecture: amd64\nVersion: 5.2.15-2\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n\nPackage: coreutils\nStatus: install ok installed\nArchitecture: amd64\nVersion: 9.1-1\n',
  );
  raw = await makeImageFromTree(tree, join(work.dir, 'cloud.raw'), { table: 'gpt', format: 'raw' });
});

after(async () => {
  await work.remove();
});

test('importing a raw image records its facts and stores it as qcow2; importing again is a cache hit', async () => {
  const options = { basesDir: join(work.dir, 'bases'), runtimeDir: join(work.dir, 'run') };
  const b = await importBase(raw, { ...options, name: 'cloud' });
  assert.equal(b.cached, false);
  assert.equal(b.facts.format, 'qcow2');
  assert.equal(b.facts.os.id, 'debian');
  assert.equal(b.facts.os.versionId, '12');
  assert.equal(b.facts.architecture, 'amd64');
  assert.deepEqual(b.facts.packages.map((p) => p.name), ['bash', 'coreutils']);
  assert.equal(b.facts.disk.table, 'gpt');
  assert.equal(b.facts.disk.rootPartition, 2);
  assert.equal(b.facts.disk.partitions.find((p) => p.number === 2)?.filesystem, 'ext4');
  assert.ok(b.facts.virtualSizeBytes > 0);
  const again = await importBase(raw, { ...options, name: 'cloud' });
  assert.equal(again.cached, true);
  assert.equal(again.path, b.path);
  assert.deepEqual((await listBases(options.basesDir)).map((x) => x.name), ['cloud']);
});

test('an image with a backing file is refused: it could make QEMU read any host file', async () => {
  const evil = join(work.dir, 'evil.qcow2');
  await createOverlay(raw, evil, { backingFormat: 'raw' });
  await assert.rejects(importBase(evil, { basesDir: join(work.dir, 'bases2'), runtimeDir: join(work.dir, 'run') }), ValidationError);
});
