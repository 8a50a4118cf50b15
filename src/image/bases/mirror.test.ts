import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { paths } from '../../core/config.js';
import { cliPath } from '../../../test/support/repo.js';
import { tempDirs } from '../../../test/support/temp-dirs.js';

const newDir = tempDirs('prescient-mirror-');

/** `prescient base build` with this mirror; its exit status and what it printed, and what it left in the home's bases. */
async function build(mirror: { flag?: string; env?: string }): Promise<{ code: number; out: string; left: string[] }> {
  const home = await newDir();
  const env: NodeJS.ProcessEnv = { ...process.env, PRESCIENT_HOME: home, ...(mirror.env ? { PRESCIENT_DEBIAN_MIRROR: mirror.env } : {}) };
  const r = await promisify(execFile)(process.execPath, [cliPath, 'base', 'build', 'debian-12', ...(mirror.flag ? ['--mirror', mirror.flag] : []), '--json'], { env }).then(
    ({ stdout, stderr }) => ({ code: 0, out: stdout + stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
  );
  return { ...r, left: await readdir(paths(home).bases).catch(() => []) };
}

test('a mirror URL with a user or password is refused before any work: it would be in every image made from the base, and the refusal does not repeat it', async () => {
  for (const mirror of [{ flag: 'http://apt:s3cret-pass@127.0.0.1:9/debian' }, { env: 'https://apt:s3cret-pass@127.0.0.1:9/debian' }]) {
    const r = await build(mirror);
    assert.equal(r.code, 2, r.out);
    assert.match(r.out, /"error": "VALIDATION"/);
    assert.match(r.out, /--mirror \(or PRESCIENT_DEBIAN_MIRROR\): the URL carries a user or password.*apt-cacher-ng/);
    assert.doesNotMatch(r.out, /s3cret-pass/);
    assert.deepEqual(r.left.filter((f) => f.startsWith('.build-')), [], 'no build was started');
  }
});

test('a mirror that is not an http(s) URL is refused, naming the flag', async () => {
  for (const [flag, why] of [['deb.debian.org/debian', /not a URL/], ['ftp://127.0.0.1:9/debian', /expected an http:\/\/ or https:\/\/ mirror, not ftp:/]] as const) {
    const r = await build({ flag });
    assert.equal(r.code, 2, r.out);
    assert.match(r.out, why);
  }
});
