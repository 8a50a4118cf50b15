import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { cliPath } from './support/repo.js';
import { tempDirs } from './support/temp-dirs.js';

const dirs = tempDirs('prescient-private-state-');

/** What libvirt's QEMU user must read, so not private: the package cache is public Debian data. */
const publicParts = ['cache', 'bases', 'layers', 'registry'];

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    out.push(path);
    if (statSync(path).isDirectory()) walk(path, out);
  }
  return out;
}

test('what the state-writing commands leave in a home is readable by its owner only (files 0600, folders 0700), under the usual umask', async () => {
  const root = await dirs();
  const home = join(root, 'home');
  const cli = (...args: string[]) => {
    // umask 022 is what a login shell gives: the modes must not depend on the caller's umask.
    const r = spawnSync('sh', ['-c', 'umask 022; exec "$@"', 'sh', process.execPath, cliPath, ...args, '--quiet'], { env: { ...process.env, PRESCIENT_HOME: home }, encoding: 'utf8' });
    assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
  };
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(root, 'id')]);
  const commands = join(root, 'commands');
  mkdirSync(commands);
  for (const user of ['User1', 'User2']) writeFileSync(join(commands, user), Array.from({ length: 200 }, (_, i) => ['ls', 'git', 'vim', 'make'][i % 4]).join('\n'));

  cli('keys', 'rotate');
  cli('credentials', 'admin');
  cli('credentials', 'issue', 'acme');
  cli('ssh-keys', 'add', 'acme', join(root, 'id.pub'));
  cli('policy', 'add', 'deny-packages', 'telnetd');
  cli('consent', 'grant', 'vm:web-17');
  cli('ingest', commands, '--format', 'commands');
  cli('train', '--dataset', commands, '--format', 'commands', '--no-network');

  const written = walk(home).map((p) => relative(home, p));
  for (const part of ['secrets', 'ssh-keys', 'models', 'policy.json', 'prescient.db']) assert.ok(written.some((p) => p === part), `the flows wrote ${part}: ${written.join(', ')}`);
  const open = walk(home)
    .filter((p) => !publicParts.includes(relative(home, p).split('/')[0]!))
    .map((p) => ({ p: relative(home, p), st: statSync(p) }))
    .filter(({ st }) => (st.mode & 0o077) !== 0)
    .map(({ p, st }) => `${p} ${(st.mode & 0o777).toString(8)}`);
  assert.deepEqual(open, [], 'no state file or folder others can open');
  // The home itself stays searchable, so libvirt's QEMU can reach a thin overlay's layers.
  assert.equal(statSync(home).mode & 0o001, 0o001);
});
