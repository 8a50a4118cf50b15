import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ValidationError } from '../core/errors.js';
import { completeUsageVector } from './hand-vector.js';
import { usageVectorJsonSchema } from './json-schema.js';
import { cliPath, repoPath } from '../../test/support/repo.js';
import { checkUsageVector, parseUsageVector, UsageVectorValidationError } from './validate.js';

const example = (): Record<string, any> => JSON.parse(readFileSync(repoPath('examples/vectors/web-db.json'), 'utf8'));

function issuesOf(mutate: (v: Record<string, any>) => void): string[] {
  const v = example();
  mutate(v);
  return checkUsageVector(v).map((i) => i.path);
}

test('the example vector is valid and round-trips', () => {
  const v = parseUsageVector(example());
  assert.equal(v.resources.vcpus, 4);
  assert.equal(v.resources.memoryMiB, 8192);
  assert.deepEqual(v.software.map((s) => s.name).slice(0, 2), ['nginx', 'postgresql']);
  assert.deepEqual(parseUsageVector(JSON.stringify(v)), v);
});

test('bad vectors are refused with the path of each bad field', () => {
  assert.deepEqual(issuesOf((v) => (v.schemaVersion = 'prescient.dev/usage-vector/v9')), ['schemaVersion']);
  assert.deepEqual(issuesOf((v) => (v.resources.diskGiB = -1)), ['resources.diskGiB']);
  assert.deepEqual(issuesOf((v) => (v.datasets[0].sizeBytes = -5)), ['datasets[0].sizeBytes']);
  assert.deepEqual(issuesOf((v) => (v.software[1].name = 'postgresql; rm -rf /')), ['software[1].name']);
  assert.deepEqual(issuesOf((v) => (v.software[0].name = '$(reboot)')), ['software[0].name']);
  assert.deepEqual(issuesOf((v) => (v.software[0].name = 'Nginx')), ['software[0].name']);
  assert.deepEqual(issuesOf((v) => (v.network.inbound[1].port = 70000)), ['network.inbound[1].port']);
  assert.deepEqual(issuesOf((v) => (v.network.inbound[0].port = 0)), ['network.inbound[0].port']);
  assert.deepEqual(issuesOf((v) => (v.confidence = 1.5)), ['confidence']);
  assert.deepEqual(issuesOf((v) => (v.resources.extra = 1)), ['resources.extra']);
  assert.deepEqual(issuesOf((v) => (v.subject = {})), ['subject']);
  assert.deepEqual(issuesOf((v) => delete v.horizon), ['horizon']);
});

test('dataset destinations must stay inside the guest', () => {
  for (const bad of ['../../etc', 'etc/passwd', '/srv/../etc', '/srv/./x', '/srv//x', '/srv/', '/', '', '/a/..', '/srv/\u0000x']) {
    assert.deepEqual(issuesOf((v) => (v.datasets[0].destination = bad)), ['datasets[0].destination'], bad);
  }
  for (const good of ['/srv/data', '/var/lib/x.y/..z', '/home/u/.cache', '/a']) {
    assert.deepEqual(issuesOf((v) => (v.datasets[0].destination = good)), [], good);
  }
});

test('parseUsageVector throws one ValidationError listing every issue', () => {
  const v = example();
  v.schemaVersion = 'v0';
  v.resources.memoryMiB = -1;
  v.network.inbound[0].port = 99999;
  try {
    parseUsageVector(v);
    assert.fail('expected a ValidationError');
  } catch (e) {
    assert.ok(e instanceof ValidationError);
    assert.ok(e instanceof UsageVectorValidationError);
    assert.equal(e.field, 'schemaVersion');
    assert.deepEqual(e.issues.map((i) => i.path), ['schemaVersion', 'resources.memoryMiB', 'network.inbound[0].port']);
    assert.match(e.message, /unknown schema version/);
  }
  assert.throws(() => parseUsageVector('{nope'), ValidationError);
});

test('the checked-in JSON Schema is the generated one and carries the rules', () => {
  const generated = usageVectorJsonSchema();
  const file = JSON.parse(readFileSync(repoPath('schemas/usage-vector-v1.schema.json'), 'utf8'));
  assert.deepEqual(file, generated, 'run: node bin/prescient.js vector schema > schemas/usage-vector-v1.schema.json');
  const props = (generated as any).properties;
  assert.equal(props.schemaVersion.const, 'prescient.dev/usage-vector/v1');
  const dest = new RegExp(props.datasets.items.properties.destination.pattern);
  assert.ok(dest.test('/srv/data') && !dest.test('../../etc') && !dest.test('/srv/../etc'));
  const pkg = new RegExp(props.software.items.properties.name.pattern);
  assert.ok(pkg.test('libc6') && !pkg.test('a;b'));
});

test('prescient vector validate names every bad field and exits 2', () => {
  const dir = mkdtempSync(join(tmpdir(), 'prescient-vector-'));
  const v = example();
  v.datasets[0].destination = '../../etc';
  v.software[0].name = 'nginx && curl x|sh';
  const file = join(dir, 'bad.json');
  writeFileSync(file, JSON.stringify(v));
  const r = spawnSync(process.execPath, [cliPath, 'vector', 'validate', file, '--json'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  const out = JSON.parse(r.stdout);
  assert.equal(out.valid, false);
  assert.deepEqual(out.issues.map((i: { path: string }) => i.path), ['software[0].name', 'datasets[0].destination']);
  const ok = execFileSync(process.execPath, [cliPath, 'vector', 'validate', repoPath('examples/vectors/web-db.json')], { encoding: 'utf8' });
  assert.match(ok, /valid/);
});

test('a vector a model made goes through the hand-vector completion unchanged, its image-set marks included', () => {
  const v = parseUsageVector(example());
  v.software[0] = { ...v.software[0]!, probability: 0.2, inImageSet: true };
  assert.deepEqual(completeUsageVector(JSON.parse(JSON.stringify(v))), v);
  assert.throws(() => completeUsageVector({ software: [{ name: 'htop', inImageset: true }] }), /software\[0\]\.inImageset: .*unknown field/);
});

test('a hand-written service takes its load and concurrency from the catalogue; an unknown load measure is refused by name', () => {
  const v = completeUsageVector({ services: [{ name: 'redis' }] });
  assert.equal(v.services[0]!.name, 'redis-server');
  assert.ok(v.services[0]!.concurrency >= 1);
  assert.throws(() => completeUsageVector({ services: [{ name: 'redis', expectedLoad: { rps: 3 } }] }), /services\[0\]\.expectedLoad\.rps: .*unknown field/);
});
