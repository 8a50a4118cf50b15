import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OciError } from './oci-error.js';
import { parseManifest } from './parse-manifest.js';

const digest = `sha256:${'a'.repeat(64)}`;
const descriptor = { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest, size: 1 };

function invalid(manifest: unknown): { message: string; field: unknown } {
  try {
    parseManifest(Buffer.from(JSON.stringify(manifest)));
  } catch (e) {
    assert.ok(e instanceof OciError && e.ociCode === 'MANIFEST_INVALID', String(e));
    return { message: e.message, field: e.details?.['field'] };
  }
  assert.fail('parsed');
}

test('a bad manifest is MANIFEST_INVALID naming its field, an index in brackets', () => {
  const bad = invalid({ schemaVersion: 2, config: descriptor, layers: [descriptor, { ...descriptor, digest: 'md5:x' }] });
  assert.equal(bad.field, 'layers[1].digest');
  assert.match(bad.message, /^manifest layers\[1\]\.digest: /);
  assert.equal(invalid([]).field, '(root)');
  assert.equal(parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, config: descriptor, layers: [descriptor] }))).schemaVersion, 2);
});
