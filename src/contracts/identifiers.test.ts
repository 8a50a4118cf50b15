import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isDigest } from '../core/digest.js';
import { ValidationError } from '../core/errors.js';
import { checkClientId, clientIdSchema, imageDigestSchema } from './identifiers.js';
import { parseEvent } from './telemetry-event.js';

const sha256 = `sha256:${'a'.repeat(64)}`;
const sha512 = `sha512:${'b'.repeat(128)}`;

test("an event's image is any digest the registry names a version by: sha512 too, as the registry takes it end to end", () => {
  const event = (image: string) => ({ kind: 'resource', time: Date.UTC(2026, 0, 1), subject: 'client:acme', source: 'agent', cpuPercent: 5, image });
  for (const image of [sha256, sha512]) {
    const r = parseEvent(event(image));
    assert.ok(r.ok, `${image}: ${r.ok ? '' : r.reason}`);
    assert.equal(r.ok && r.event.image, image);
  }
  for (const image of [`sha512:${'b'.repeat(64)}`, `sha256:${'A'.repeat(64)}`, `md5:${'c'.repeat(32)}`, sha256.slice(7)]) {
    const r = parseEvent(event(image));
    assert.equal(r.ok, false, `${image} is not a digest`);
    assert.match(r.ok ? '' : r.reason, /^image: expected an image digest/, 'the error names the field');
  }
});

test('one rule: the identifier takes exactly what the registry takes as a digest', () => {
  for (const s of [sha256, sha512, `sha512:${'b'.repeat(64)}`, `sha256:${'a'.repeat(63)}`, `sha384:${'d'.repeat(96)}`, '']) {
    assert.equal(imageDigestSchema.safeParse(s).success, isDigest(s), s);
  }
});

test('a client id is checked by one rule everywhere: the schema\'s, with the field named', () => {
  for (const id of ['webshop', 'a.b-c_1', 'x'.repeat(64)]) {
    assert.equal(checkClientId(id), id);
    assert.ok(clientIdSchema.safeParse(id).success);
  }
  for (const [id, message] of [['x'.repeat(65), /at most 64/], ['../etc', /lowercase letters/], ['Acme', /lowercase letters/], ['a..b', /lowercase letters/], ['', /lowercase letters/]] as const) {
    assert.throws(() => checkClientId(id, '<client>'), (e: unknown) => e instanceof ValidationError && e.field === '<client>' && message.test(e.message), id);
    assert.ok(!clientIdSchema.safeParse(id).success, id);
  }
});
