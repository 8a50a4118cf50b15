import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import type { ValidationError } from './errors.js';
import { firstIssueError } from './field-issues.js';

test('one problem at a time: the first issue names its field, a misspelt key by itself', () => {
  const schema = z.strictObject({ login: z.strictObject({ user: z.string(), keys: z.array(z.string()) }) });
  const error = (value: unknown): ValidationError => firstIssueError(schema.safeParse(value).error!, { source: 'test' });
  assert.equal(error({ login: { user: 'a', keys: ['k', 3] } }).field, 'login.keys[1]');
  const unknown = error({ login: { user: 'a', keys: [], usr: 'b' } });
  assert.deepEqual([unknown.field, unknown.message, unknown.details?.['source']], ['login.usr', 'login.usr: unknown field', 'test']);
  assert.equal(error('nope').field, '(root)');
});
