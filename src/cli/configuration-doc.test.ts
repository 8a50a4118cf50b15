import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { cliPath, repoPath, repoRoot } from '../../test/support/repo.js';
import { buildProgram } from './main.js';
import { optionsReference } from './options-reference.js';

const doc = readFileSync(repoPath('docs/configuration.md'), 'utf8');

test('every option serve --help lists appears in docs/configuration.md', () => {
  const help = execFileSync(process.execPath, [cliPath, 'serve', '--help'], { encoding: 'utf8' });
  const listed = [...help.matchAll(/^ {2}(?:(-\w), )?(--[a-z][\w-]*)/gm)].flatMap((m) => [m[1], m[2]]).filter((f): f is string => !!f);
  assert.ok(listed.includes('--port') && listed.includes('--no-auth') && listed.includes('--json'), `parsed ${listed.join(' ')}`);
  const section = doc.slice(doc.indexOf('### `prescient serve`'), doc.indexOf('### ', doc.indexOf('### `prescient serve`') + 4));
  const missing = listed.filter((f) => !(section.includes(`\`${f}`) || section.includes(` ${f} `) || section.includes(`${f},`) || (['--json', '-q', '--quiet', '--debug', '-V', '--version', '-h', '--help'].includes(f) && doc.includes(f))));
  assert.deepEqual(missing, [], 'run: bash scripts/docs');
});

test('the flags part of the reference is the command tree as it is (bash scripts/docs regenerates it)', () => {
  const begin = doc.indexOf('-->', doc.indexOf('<!-- flags:begin')) + 4;
  const end = doc.indexOf('<!-- flags:end -->');
  assert.equal(doc.slice(begin, end).trim(), optionsReference(buildProgram()), 'out of date: bash scripts/docs');
});

test('every environment variable the code and scripts read is in the reference', () => {
  const sources = execFileSync('grep', ['-rhoE', 'PRESCIENT_[A-Z_]+', 'src', 'scripts', '--include=*.ts', '--include=quickstart', '--include=test', '--include=setup', '--include=bench'], { cwd: repoRoot, encoding: 'utf8' });
  const vars = [...new Set(sources.split('\n').filter(Boolean))].filter((v) => !v.endsWith('_'));
  for (const v of vars) assert.ok(doc.includes(`\`${v}\``), `${v} is not in docs/configuration.md`);
});

test('the README links the configuration reference and the fleet guide, which exist', () => {
  const readme = readFileSync(repoPath('README.md'), 'utf8');
  for (const d of ['docs/configuration.md', 'docs/fleet.md']) {
    assert.ok(readme.includes(`](${d})`), `README does not link ${d}`);
    assert.ok(readFileSync(repoPath(d), 'utf8').length > 1000);
  }
  const license = readFileSync(repoPath('LICENSE'), 'utf8');
  const pkg = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { license: string };
  assert.equal(pkg.license, 'Apache-2.0');
  assert.match(license, /Apache License\s+Version 2\.0/);
});
