import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ValidationError } from '../core/errors.js';
import { clientIdFromAccount, identify } from './identify.js';
import { loadIdentifyConfig, parseIdentifyConfig } from './rules.js';

const config = parseIdentifyConfig({
  rules: [
    { kind: 'account', account: 'alice@acme.example', clientId: 'acme', category: 'web' },
    { kind: 'pattern', field: 'account', regex: '^(?<team>[a-z]+)-ci@', clientId: 'ci-$<team>', category: 'ci' },
    { kind: 'parameters', match: { workload: 'training', gpu: 'yes' }, category: 'ml' },
    { kind: 'pattern', field: 'parameters.image', regex: '^db-', category: 'database' },
  ],
  fallbackCategory: 'general',
});

describe('identify', () => {
  test('by account', () => {
    assert.deepEqual(identify(config, { account: 'alice@acme.example' }), { clientId: 'acme', category: 'web', matchedBy: 'rules[0]' });
  });
  test('by pattern on the account, with named groups in the client id', () => {
    assert.deepEqual(identify(config, { account: 'infra-ci@x.org' }), { clientId: 'ci-infra', category: 'ci', matchedBy: 'rules[1]' });
  });
  test('by parameters: all must match', () => {
    assert.equal(identify(config, { account: 'bob@x.org', parameters: { workload: 'training', gpu: 'yes' } }).category, 'ml');
    assert.equal(identify(config, { account: 'bob@x.org', parameters: { workload: 'training' } }).category, 'general');
    assert.equal(identify(config, { clientId: 'bob', parameters: { workload: 'training', gpu: 'yes' } }).clientId, 'bob');
  });
  test('by pattern on a parameter', () => {
    assert.deepEqual(identify(config, { clientId: 'shop', parameters: { image: 'db-large' } }), { clientId: 'shop', category: 'database', matchedBy: 'rules[3]' });
  });
  test('an unknown client falls back to the fallback category, its id derived from the account', () => {
    assert.deepEqual(identify(config, { account: 'Carol.Smith@Example.COM' }), { clientId: 'carol-smith-example-com', category: 'general', matchedBy: 'fallback' });
  });
  test('a request with neither account nor client id, or a bad client id, names the field', () => {
    assert.throws(() => identify(config, {}), (e) => e instanceof ValidationError && e.field === 'account');
    assert.throws(() => identify(config, { clientId: 'Bad/Id' }), (e) => e instanceof ValidationError && e.field === 'clientId');
    assert.throws(() => clientIdFromAccount('@@@'), ValidationError);
  });
});

describe('identify config', () => {
  test('errors name the field path', () => {
    const bad = (value: unknown, field: string): void =>
      assert.throws(() => parseIdentifyConfig(value), (e) => e instanceof ValidationError && e.field === field, field);
    bad({ rules: [{ kind: 'account', account: 'a', clientId: 'UPPER', category: 'web' }] }, 'rules[0].clientId');
    bad({ rules: [{ kind: 'pattern', field: 'account', regex: '(', category: 'x' }] }, 'rules[0].regex');
    bad({ rules: [{ kind: 'parameters', match: {}, category: 'x' }] }, 'rules[0].match');
    bad({ rules: [], extra: 1 }, 'extra');
    bad({ rules: [{ kind: 'nope' }] }, 'rules[0].kind');
  });
  test('a missing file is the empty config; a broken file is a ValidationError', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'prescient-identify-'));
    try {
      const empty = await loadIdentifyConfig(join(dir, 'absent.json'));
      assert.deepEqual(empty, { rules: [], fallbackCategory: 'general' });
      await writeFile(join(dir, 'broken.json'), '{ nope');
      await assert.rejects(loadIdentifyConfig(join(dir, 'broken.json')), ValidationError);
      await writeFile(join(dir, 'ok.json'), JSON.stringify({ fallbackCategory: 'desktop' }));
      assert.equal((await loadIdentifyConfig(join(dir, 'ok.json'))).fallbackCategory, 'desktop');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
