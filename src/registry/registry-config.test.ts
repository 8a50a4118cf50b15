import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ValidationError } from '../core/errors.js';
import { parseRegistryConfig, registryConfigFromEnv } from './registry-config.js';

function fieldOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof ValidationError, String(e));
    return e.field;
  }
  assert.fail('accepted');
}

test('a registry configuration names the field inside registry:, a misspelt key by itself', () => {
  assert.equal(fieldOf(() => parseRegistryConfig({ kind: 'oci', url: 'ftp://x' })), 'registry.url');
  assert.equal(fieldOf(() => parseRegistryConfig({ kind: 'oci', url: 'http://127.0.0.1:5000', insecur: true })), 'registry.insecur');
  assert.equal(fieldOf(() => parseRegistryConfig('oci', 'defaults.registry')), 'defaults.registry');
  assert.equal(fieldOf(() => parseRegistryConfig({ kind: 'oci', url: 7 }, 'defaults.registry')), 'defaults.registry.url');
  assert.equal(fieldOf(() => registryConfigFromEnv({ PRESCIENT_REGISTRY_URL: 'registry:5000' })), 'PRESCIENT_REGISTRY_URL');
});
