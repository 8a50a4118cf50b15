import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { run } from '../../core/exec.js';
import { tempDirs } from '../../../test/support/temp-dirs.js';
import { sweepStaleBuilds } from './build.js';

const dirs = tempDirs('prescient-stale-builds-');
const skip = process.getuid?.() !== 0 && 'needs root (mounts)';

test('a killed base build is swept by the next one: its mounts undone first, so nothing behind a mount is deleted', { skip }, async () => {
  const root = await dirs();
  const bases = join(root, 'bases');
  // What a killed build leaves: its folder, with a mount still in its tree (debootstrap's /proc,
  // here a bind mount of a host folder, the case where removing through it would do harm).
  const host = join(root, 'host');
  await mkdir(host);
  await writeFile(join(host, 'precious'), 'host data\n');
  const stale = join(bases, '.build-abc123-4242');
  await mkdir(join(stale, 'root', 'mnt'), { recursive: true });
  await run('mount', ['--bind', host, join(stale, 'root', 'mnt')]);
  const other = join(bases, '.build-other-4243');
  await mkdir(other, { recursive: true });
  try {
    assert.deepEqual(await sweepStaleBuilds(bases, 'abc123'), [stale]);
    assert.equal(existsSync(stale), false, 'the stale folder is gone');
    assert.equal(await readFile(join(host, 'precious'), 'utf8'), 'host data\n', 'the file behind the mount is untouched');
    assert.ok(!(await readFile('/proc/self/mounts', 'utf8')).includes(stale), 'no mount left under it');
    assert.equal(existsSync(other), true, "another recipe's build is not this one's to sweep");
  } finally {
    await run('umount', ['-l', join(stale, 'root', 'mnt')], { allowFailure: true });
  }
});
