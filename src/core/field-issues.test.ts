import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import type { ValidationError } from './errors.js';
import { firstIssue, firstIssueError, formatIssuePath, type FieldIssue } from './field-issues.js';

test('one problem at a time: the first issue names its field, a misspelt key by itself', () => {
  const schema = z.strictObject({ login: z.strictObject({ user: z.string(), keys: z.array(z.string()) }) });
  const error = (value: unknown): ValidationError => firstIssueError(schema.safeParse(value).error!, { details: { source: 'test' } });
  assert.equal(error({ login: { user: 'a', keys: ['k', 3] } }).field, 'login.keys[1]');
  const unknown = error({ login: { user: 'a', keys: [], usr: 'b' } });
  assert.deepEqual([unknown.field, unknown.message, unknown.details?.['source']], ['login.usr', 'login.usr: unknown field', 'test']);
  assert.equal(error('nope').field, '(root)');
});

test('a root names the value the paths start from: fields inside it, the value itself when the path is empty', () => {
  const schema = z.strictObject({ url: z.string(), files: z.array(z.strictObject({ path: z.string() })).optional() });
  const issue = (value: unknown, root?: string): FieldIssue => firstIssue(schema.safeParse(value).error!, root);
  assert.equal(issue({ url: 3 }, 'registry').path, 'registry.url');
  assert.equal(issue({ url: 'x', files: [{ path: 1 }] }, 'registry').path, 'registry.files[0].path');
  assert.equal(issue({ url: 'x', files: [{ path: 'p', mode: 1 }] }, 'seed').path, 'seed.files[0].mode');
  assert.equal(issue('nope', 'files[2]').path, 'files[2]');
  assert.equal(issue('nope').path, '(root)');
  assert.equal(formatIssuePath([0, 'name'], 'software'), 'software[0].name');
  const e = firstIssueError(schema.safeParse({ url: 3 }).error!, { root: '--queue-url' });
  assert.equal(e.field, '--queue-url.url');
});
