import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { cliPath } from '../../../test/support/repo.js';
import { tempDirs } from '../../../test/support/temp-dirs.js';

const dirs = tempDirs('prescient-ssh-keys-cli-');

test('ssh-keys add names the key it was given, also when the client had it already; a private key is named as <file>', async () => {
  const home = await dirs();
  const keys = ['a', 'b'].map((name) => {
    const file = join(home, `id_${name}`);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', file]);
    return { file, fingerprint: execFileSync('ssh-keygen', ['-lf', `${file}.pub`], { encoding: 'utf8' }).split(' ')[1]! };
  });
  const add = (file: string, input?: string) => spawnSync(process.execPath, [cliPath, 'ssh-keys', 'add', 'acme', file], { env: { ...process.env, PRESCIENT_HOME: home }, encoding: 'utf8', ...(input === undefined ? {} : { input }) });
  assert.equal(add(`${keys[0]!.file}.pub`).stdout, `acme: user user, 1 key; added ${keys[0]!.fingerprint}\n`);
  assert.equal(add(`${keys[1]!.file}.pub`).stdout, `acme: user user, 2 keys; added ${keys[1]!.fingerprint}\n`);
  assert.equal(add(`${keys[0]!.file}.pub`).stdout, `acme: user user, 2 keys; already had ${keys[0]!.fingerprint}\n`);
  const secret = add(keys[0]!.file);
  assert.equal(secret.status, 2);
  assert.equal(secret.stderr, 'error: <file>: this is a private key: give the .pub file\n');
  // `-` is standard input, as wherever the CLI reads a file; a missing file is named with the fix.
  assert.equal(add('-', readFileSync(`${keys[1]!.file}.pub`, 'utf8')).stdout, `acme: user user, 2 keys; already had ${keys[1]!.fingerprint}\n`);
  assert.equal(add(join(home, 'nope.pub')).stderr, `error: <file>: no such file ${join(home, 'nope.pub')}; check the path\n`);
});
