import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { cliPath } from './support/repo.js';

test('the CLI prints help that names its commands', () => {
  const out = execFileSync(process.execPath, [cliPath, '--help'], { encoding: 'utf8' });
  assert.match(out, /Usage: prescient/);
});
