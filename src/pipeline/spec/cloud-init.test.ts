import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ValidationError } from '../../core/errors.js';
import { seedFiles, type SeedInput } from './cloud-init.js';

const file = { path: '/etc/prescient/agent.token', content: 'x', owner: 'root:root', permissions: '0600' };

function fieldOf(input: Partial<SeedInput>): string {
  try {
    seedFiles({ instanceId: 'i-1', hostname: 'vm', ...input });
  } catch (e) {
    assert.ok(e instanceof ValidationError, String(e));
    return e.field;
  }
  assert.fail('accepted');
}

test('a bad seed names the field: the file by its index, a misspelt key by itself', () => {
  assert.equal(fieldOf({ files: [file, { ...file, path: '/etc/other', owner: 'Root' }] }), 'files[1].owner');
  assert.equal(fieldOf({ files: [{ ...file, mode: '0600' } as never] }), 'files[0].mode');
  assert.equal(fieldOf({ files: [file, file] }), 'files[1].path');
  assert.equal(fieldOf({ login: { user: 'root', sshAuthorizedKeys: ['ssh-ed25519 AAAA'] } }), 'login.user');
  assert.equal(fieldOf({ login: { user: 'ann', sshAuthorizedKeys: ['ssh-ed25519 AAAA', 'nope'] } }), 'login.sshAuthorizedKeys[1]');
  assert.match(seedFiles({ instanceId: 'i-1', hostname: 'vm', files: [file] })['user-data'], /agent\.token/);
});
