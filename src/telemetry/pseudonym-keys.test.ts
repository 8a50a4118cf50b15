import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { cliPath } from '../../test/support/repo.js';

const exec = promisify(execFile);

describe('prescient keys rotate', () => {
  let home: string;
  const keys = async (...args: string[]): Promise<{ id: string; current: boolean }[]> =>
    JSON.parse((await exec(process.execPath, [cliPath, '--json', 'keys', ...args], { env: { ...process.env, PRESCIENT_HOME: home } })).stdout) as { id: string; current: boolean }[];
  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'prescient-keys-'));
  });
  after(async () => {
    await rm(home, { recursive: true, force: true });
  });

  test('on a fresh home the first rotate makes k1 alone; the next puts k2 before it; --drop-old keeps one', async () => {
    assert.deepEqual(await keys('ls'), []);
    const first = (await keys('rotate')) as unknown as { current: string; kept: number; first: boolean };
    assert.deepEqual(first, { current: 'k1', kept: 0, first: true });
    assert.deepEqual((await keys('ls')).map((k) => [k.id, k.current]), [['k1', true]]);
    const second = (await keys('rotate')) as unknown as { current: string; kept: number; first: boolean };
    assert.deepEqual(second, { current: 'k2', kept: 1, first: false });
    assert.deepEqual((await keys('ls')).map((k) => [k.id, k.current]), [['k2', true], ['k1', false]]);
    await keys('rotate', '--drop-old');
    assert.deepEqual((await keys('ls')).map((k) => k.id), ['k3']);
    assert.equal((await stat(join(home, 'secrets', 'pseudonym-keys.json'))).mode & 0o777, 0o600);
  });
});
