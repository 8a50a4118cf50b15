import assert from 'node:assert/strict';
import { test } from 'node:test';
import { annotations } from './annotations.js';

test('every annotation has a key of its own (the base name once overwrote the base digest)', () => {
  const keys = Object.values(annotations);
  assert.equal(new Set(keys).size, keys.length, `duplicated keys: ${keys.filter((k, i) => keys.indexOf(k) !== i).join(', ')}`);
  assert.notEqual(annotations.baseName, annotations.base);
});
