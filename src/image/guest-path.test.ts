import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import { UnsafePathError } from '../core/errors.js';
import { resolveInGuest } from './guest-path.js';

let root: string;
let outside: string;

before(async () => {
  outside = await mkdtemp(join(tmpdir(), 'prescient-outside-'));
  root = await mkdtemp(join(tmpdir(), 'prescient-root-'));
  await mkdir(join(root, 'real/dir'), { recursive: true });
  await writeFile(join(root, 'real/file'), 'x');
  await symlink('/', join(root, 'etc'));
  await symlink(outside, join(root, 'abs'));
  await symlink(relative(root, outside), join(root, 'rel-from-root'));
  await symlink('../../../../../../../../../../tmp', join(root, 'real/dir/up'));
  await symlink('chain2', join(root, 'chain1'));
  await symlink('/chain3', join(root, 'chain2'));
  await symlink('../../..', join(root, 'chain3'));
  await symlink('/loop', join(root, 'loop'));
  await symlink('file', join(root, 'real/link-to-file'));
});

after(async () => {
  await rm(root, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});

function inside(p: string): boolean {
  return p === root || p.startsWith(`${root}/`);
}

test('every symlink trick resolves inside the guest root', async () => {
  const cases: [string, string][] = [
    ['/etc/passwd', '/passwd'],
    ['/etc/etc/etc/shadow', '/shadow'],
    ['/abs/x', `${outside}/x`], // the host path, re-rooted in the guest
    ['/real/dir/up/x', '/tmp/x'],
    ['/chain1/x', '/x'],
    ['/../../../x', '/x'],
    ['/real/../../real/file', '/real/file'],
    ['/real/link-to-file', '/real/file'],
  ];
  for (const [guest, expected] of cases) {
    const host = await resolveInGuest(root, guest);
    assert.ok(inside(host), `${guest} resolved outside: ${host}`);
    assert.equal(host, join(root, expected), guest);
  }
});

test('the relative link from the root is taken inside the guest', async () => {
  const host = await resolveInGuest(root, '/rel-from-root/x');
  assert.ok(inside(host), host);
});

test('followFinal: false keeps the link itself', async () => {
  assert.equal(await resolveInGuest(root, '/etc', { followFinal: false }), join(root, 'etc'));
  assert.equal(await resolveInGuest(root, '/etc'), root);
});

test('symlink loops and relative paths are refused', async () => {
  await assert.rejects(resolveInGuest(root, '/loop/x'), UnsafePathError);
  await assert.rejects(resolveInGuest(root, 'relative/path'), UnsafePathError);
  await assert.rejects(resolveInGuest(root, '/a\0b'), UnsafePathError);
  await assert.rejects(resolveInGuest(root, '/real/file/below'), UnsafePathError);
});
