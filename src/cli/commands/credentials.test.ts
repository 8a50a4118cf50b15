import assert from 'node:assert/strict';
import { test } from 'node:test';
import { prescient } from '../../../test/support/cli.js';
import { tempDirs } from '../../../test/support/temp-dirs.js';

const home = tempDirs('prescient-credentials-cli-');

test('issue-source without --subject is a usage error naming the option; with one, the credential is made', async () => {
  const dir = await home();
  const missing = await prescient(dir, ['credentials', 'issue-source', 'hv']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /required option '-s, --subject <KIND:ID>' not specified/);
  const made = await prescient(dir, ['credentials', 'issue-source', 'hv', '--subject', 'vm:host-2', '-s', 'vm:host-1']);
  assert.equal(made.code, 0, made.stderr);
  assert.deepEqual([made.json.username, made.json.subjects], ['source/hv', ['vm:host-1', 'vm:host-2']]);
  const bad = await prescient(dir, ['credentials', 'issue-source', 'hv', '--subject', 'host-1']);
  assert.equal(bad.code, 2);
  assert.equal(bad.json.details.field, 'subjects[0]');
});
