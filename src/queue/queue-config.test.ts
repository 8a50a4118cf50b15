import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ValidationError } from '../core/errors.js';
import { queueConfigFrom } from './queue-config.js';

test('a bad queue URL names where it came from: the flag or the variable, never the URL', () => {
  const refused = (f: () => unknown, field: string) =>
    assert.throws(f, (e: unknown) => e instanceof ValidationError && e.field === field && !e.message.includes('s3cret'));
  refused(() => queueConfigFrom('mysql://u:s3cret@127.0.0.1/q', {}), '--queue-url');
  refused(() => queueConfigFrom(undefined, { PRESCIENT_QUEUE_URL: 'mysql://u:s3cret@127.0.0.1/q' }), 'PRESCIENT_QUEUE_URL');
  assert.deepEqual(queueConfigFrom(undefined, { PRESCIENT_QUEUE_URL: 'postgres://127.0.0.1/q' }), { kind: 'postgres', url: 'postgres://127.0.0.1/q' });
  assert.equal(queueConfigFrom(undefined, {}), undefined);
});
