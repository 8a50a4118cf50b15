import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { prescient } from '../../test/support/cli.js';
import { cliPath, repoPath, repoRoot } from '../../test/support/repo.js';
import { tempDirs } from '../../test/support/temp-dirs.js';
import { buildProgram } from './main.js';
import { optionsReference } from './options-reference.js';

const doc = readFileSync(repoPath('docs/configuration.md'), 'utf8');
const homes = tempDirs('prescient-configuration-doc-');

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

test('a broken file of the home is refused naming the key and the file: config.json, policy.json, identify.json, category-vectors.json', async () => {
  const cases: [file: string, text: string, args: string[], field: string][] = [
    ['config.json', '{"stor": "sqlite"}', ['images', 'ls'], 'stor'],
    ['config.json', '{"store": {"kind": "postgres", "url": 5}}', ['images', 'ls'], 'store.url'],
    ['policy.json', '{"inbund": {}}', ['policy', 'show'], 'inbund'],
    ['policy.json', '{"inbound": {"allow": "8080"}}', ['policy', 'show'], 'inbound.allow'],
    ['identify.json', '{"rules": [], "fallbackCategry": "web"}', ['prepare', 'acme'], 'fallbackCategry'],
    ['category-vectors.json', '[]', ['prepare', 'acme'], '(root)'],
  ];
  for (const [file, text, args, field] of cases) {
    const home = await homes();
    await writeFile(join(home, file), text);
    const r = await prescient(home, args);
    assert.equal(r.code, 2, `${file}: ${r.stderr}`);
    assert.equal(r.json.details.field, field, file);
    assert.equal(r.json.details.source, join(home, file), file);
    assert.match(r.stderr, new RegExp(`^error: ${field.replace(/[()[\].]/g, '\\$&')}: .*\\(in ${join(home, file)}\\)\\n$`), file);
  }
});

test('every file of this repository the README, the guides and the commands\' help name exists', () => {
  const commandSources = readdirSync(repoPath('src/cli/commands')).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts')).map((f) => `src/cli/commands/${f}`);
  const missing: string[] = [];
  for (const file of ['README.md', 'docs/configuration.md', 'docs/fleet.md', 'docs/in-guest-agent.md', ...commandSources]) {
    const named = readFileSync(repoPath(file), 'utf8').match(/\b(?:src|deploy|scripts|examples|schemas|docs|bench)\/[\w@./-]*[\w@-]/g) ?? [];
    for (const path of new Set(named)) if (!existsSync(repoPath(path))) missing.push(`${file}: ${path}`);
  }
  assert.deepEqual(missing, []);
});
