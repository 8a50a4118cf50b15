import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';

test('the CLI prints help that names its commands', () => {
  const out = execFileSync('node', ['bin/prescient.js', '--help'], { encoding: 'utf8' });
  assert.match(out, /Usage: prescient/);
});
