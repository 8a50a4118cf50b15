import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { paths } from '../core/config.js';
import { prescient } from '../../test/support/cli.js';
import { debianBase, testHome, testPaths } from '../../test/support/images.js';
import { webDbVector } from '../../test/support/vectors.js';
import { isMountBackendUsable, withImageSession } from '../image/open.js';
import { convert, createOverlay } from '../image/qemu-img.js';

/**
 * A hostile base, as an attacker would hand it over: Debian with a trojaned /usr/bin/fallocate
 * that tries to act on the host (the chroot escape, a write to a host path, a look at the
 * secrets). Imported with `base import` (its header is clean, so it passes) and built through
 * `personalize`, whose sizing module runs fallocate for the swap file. The trojan runs — in
 * the sandbox, as an unprivileged host uid — and nothing outside the guest changes.
 */
let home: string;
let hostSecrets: string;
let markers: { escaped: string; listing: string; direct: string };
const skip = !(await isMountBackendUsable()) && 'guest commands run through the mount backend';

before(async () => {
  if (skip) return;
  const base = await debianBase();
  home = await mkdtemp(join(testHome(), 'hostile-'));
  hostSecrets = paths(home).secrets;
  await writeFile(join(home, 'canary'), '');
  await rm(hostSecrets, { recursive: true, force: true });
  await mkdir(hostSecrets, { mode: 0o700 });
  await writeFile(join(hostSecrets, 'admin.secret'), 'the admin secret\n', { mode: 0o600 });
  markers = { escaped: join(home, 'escaped'), listing: join(home, 'listing'), direct: join(home, 'direct') };

  const overlay = join(home, 'trojan.qcow2');
  await createOverlay(base.path, overlay);
  await withImageSession(overlay, { runtimeDir: testPaths().runtime }, async (s) => {
    await s.writeFile('/usr/bin/fallocate.real', await s.readFile('/usr/bin/fallocate'), { mode: 0o755 });
    const escape = `mkdir "/x"; chroot "/x"; chdir ".." for 1..64; chroot "."; system("touch ${markers.escaped}; ls ${hostSecrets} > ${markers.listing}")`;
    await s.writeFile(
      '/usr/bin/fallocate',
      [
        '#!/bin/sh',
        `perl -e '${escape}' 2>/dev/null`,
        `echo trojan > ${markers.direct} 2>/dev/null`,
        'id -u > /root/fallocate-uid',
        'cat /proc/self/uid_map > /root/fallocate-uid-map',
        'exec /usr/bin/fallocate.real "$@"',
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
  });
  await convert(overlay, join(home, 'hostile.qcow2'), { sourceFormat: 'qcow2', targetFormat: 'qcow2' });
  await rm(overlay);
});

after(async () => {
  if (home) await rm(home, { recursive: true, force: true });
});

test('a trojaned base, imported and personalised, runs its trojan as an unprivileged host uid and writes nothing outside the guest', { skip, timeout: 20 * 60_000 }, async () => {
  const imported = await prescient(home, ['base', 'import', join(home, 'hostile.qcow2'), '--name', 'hostile']);
  assert.equal(imported.code, 0, imported.stderr);
  const vectorFile = join(home, 'vector.json');
  const vector = webDbVector([], { resources: { vcpus: 1, memoryMiB: 1024, diskGiB: 4, expectedP95CpuPercent: 20, expectedP95MemoryMiB: 500, diskReadKBps: 1, diskWriteKBps: 1, networkInKBps: 1, networkOutKBps: 1 } });
  await writeFile(vectorFile, JSON.stringify(vector));
  const out = join(home, 'out');
  const built = await prescient(home, ['personalize', '--base', 'hostile', '--vector', vectorFile, '--out', out, '--modules', 'resources,sizing']);
  assert.equal(built.code, 0, built.stderr);

  for (const m of Object.values(markers)) await assert.rejects(stat(m), { code: 'ENOENT' }, `${m} was written on the host`);
  await withImageSession(join(out, 'disk.qcow2'), { runtimeDir: paths(home).runtime, readOnly: true }, async (s) => {
    assert.ok(await s.stat('/swapfile'), 'fallocate ran (the swap file is there)');
    assert.equal((await s.readFile('/root/fallocate-uid')).toString().trim(), '0', 'root inside its guest');
    const [inside, outside] = (await s.readFile('/root/fallocate-uid-map')).toString().trim().split(/\s+/).map(Number);
    assert.equal(inside, 0);
    assert.ok(outside! >= 65536, `guest root ran as host uid ${outside}`);
    // Its write to a "host" path stayed in the guest, if it landed at all.
    assert.equal(await s.stat(markers.escaped), undefined);
  });
});
