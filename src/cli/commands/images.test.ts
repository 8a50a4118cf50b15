import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { cliPath } from '../../../test/support/repo.js';
import { makeChain, readsPattern, type FixtureChain } from '../../registry/testing/qcow2-fixtures.js';

const exec = promisify(execFile);

describe('prescient images / registry commands', () => {
  let home: string;
  let chain: FixtureChain;
  const cli = async (...args: string[]): Promise<{ stdout: string; code: number }> => {
    try {
      const r = await exec(process.execPath, [cliPath, ...args], { env: { ...process.env, PRESCIENT_HOME: home } });
      return { stdout: r.stdout, code: 0 };
    } catch (e) {
      const err = e as { stdout: string; code: number };
      return { stdout: err.stdout, code: err.code };
    }
  };
  const json = async <T>(...args: string[]): Promise<T> => {
    const r = await cli('--json', '-q', ...args);
    assert.equal(r.code, 0, r.stdout);
    return JSON.parse(r.stdout) as T;
  };

  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'prescient-cli-images-'));
    chain = await makeChain(join(home, 'layers'), 2);
    await writeFile(join(home, 'c1.json'), JSON.stringify({ plan: [{ kind: 'packages.install', packages: ['nginx'] }] }));
    await writeFile(join(home, 'c2.json'), JSON.stringify({ plan: [{ kind: 'packages.install', packages: ['nginx', 'redis'] }] }));
  });
  after(async () => {
    await rm(home, { recursive: true, force: true });
  });

  test('register, ls, diff, rollback, checkout, fsck, gc through the CLI', async () => {
    const v1 = await json<{ version: number; digest: string }>('images', 'register', 'clients/acme', '--layer', chain.files[0]!, '--config', join(home, 'c1.json'));
    const v2 = await json<{ version: number; digest: string }>('images', 'register', 'clients/acme', '--layer', ...chain.files, '--config', join(home, 'c2.json'));
    assert.deepEqual([v1.version, v2.version], [1, 2]);
    const versions = await json<{ version: number; tags: string[] }[]>('images', 'ls', 'clients/acme');
    assert.deepEqual(versions.map((v) => [v.version, v.tags]), [[1, ['v1']], [2, ['latest', 'v2']]]);
    const diff = await json<{ packages: { added: string[] } }>('images', 'diff', 'clients/acme:v1', 'clients/acme:v2');
    assert.deepEqual(diff.packages.added, ['redis']);
    const rb = await json<{ to: string }>('images', 'rollback', 'clients/acme');
    assert.equal(rb.to, v1.digest);
    const co = await json<{ top: string }>('images', 'checkout', 'clients/acme:v2', join(home, 'co'));
    assert.ok(await readsPattern(co.top, chain.patterns[1]!, 1));
    assert.equal((await json<{ ok: boolean }>('registry', 'fsck')).ok, true);
    assert.equal((await json<{ removed: unknown[] }>('images', 'gc', '--grace', '0')).removed.length, 0);
  });

  test('errors are exit codes: a bad repository name is a usage error, an unknown one is not found', async () => {
    assert.equal((await cli('images', 'ls', 'Not/Valid')).code, 2);
    assert.equal((await cli('images', 'show', 'clients/nobody:latest')).code, 3);
    assert.equal((await cli('images', 'rm', 'clients/acme:v1')).code, 1, 'v1 is still named by latest');
  });

  test('a version tag as the tag to set is a usage error that names the moving-tag way and rollback', async () => {
    const r = await exec(process.execPath, [cliPath, 'images', 'tag', 'clients/acme:v1', 'v2'], { env: { ...process.env, PRESCIENT_HOME: home } }).catch((e: { code: number; stderr: string }) => e);
    assert.equal((r as { code?: number }).code, 2);
    assert.match(r.stderr, /tag: v2 is a version tag.*moving tag.*images rollback clients\/acme --to v2|tag: v2 is a version tag.*moving tag.*images rollback <repository> --to v2/);
    assert.equal((await json<{ version: number; tags: string[] }[]>('images', 'ls', 'clients/acme')).find((v) => v.version === 2)?.tags.includes('v2'), true, 'nothing moved');
  });

  test('--help teaches with examples', async () => {
    const r = await cli('images', '--help');
    assert.match(r.stdout, /rollback/);
    assert.match(r.stdout, /Examples:/);
  });
});
