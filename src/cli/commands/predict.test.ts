import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { datasetPath } from '../../../test/support/datasets.js';
import { cliPath } from '../../../test/support/repo.js';

const schonlau = datasetPath('schonlau');
const skip = existsSync(schonlau) ? false : `needs ${schonlau} (the shared datasets)`;

function cli(home: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', env: { ...process.env, PRESCIENT_HOME: home } });
}

test('prescient train then predict on the Schonlau users gives valid vectors, cold start included', { skip }, () => {
  const home = mkdtempSync(join(tmpdir(), 'prescient-cli-predict-'));
  const data = ['--dataset', schonlau, '--format', 'commands'];
  const untrained = cli(home, 'predict', ...data, '--category', 'commands', '--json');
  assert.equal(untrained.status, 0, untrained.stderr);
  assert.equal(JSON.parse(untrained.stdout).confidence, 0, 'an untrained category gets the default vector');

  const trained = cli(home, 'train', ...data, '--no-network', '--json', '--quiet');
  assert.equal(trained.status, 0, trained.stderr);
  const set = JSON.parse(trained.stdout);
  assert.equal(set.version, 1);
  assert.equal(set.selections.find((s: { target: string }) => s.target === 'software@next-item').selected, 'ngram-mix');

  const user = cli(home, 'predict', ...data, '--client', 'User3', '--json');
  assert.equal(user.status, 0, user.stderr);
  const v = JSON.parse(user.stdout);
  assert.equal(v.subject.category, 'commands');
  assert.ok(v.software.length > 0 && v.software.every((s: { name: string }) => /^[a-z0-9][a-z0-9+.-]+$/.test(s.name)));
  assert.ok(v.software.some((s: { name: string }) => s.name === 'coreutils'));

  const bad = cli(home, 'predict', ...data, '--client', 'User3', '--horizon-hours', '-1');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--horizon-hours/);
});
