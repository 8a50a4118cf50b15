import assert from 'node:assert/strict';
import { test } from 'node:test';
import { prescient } from '../../../test/support/cli.js';
import { tempDirs } from '../../../test/support/temp-dirs.js';

const homes = tempDirs('prescient-policy-cli-');

test('policy add is idempotent: a value given twice, or added again, is listed once', async () => {
  const home = await homes();
  for (const args of [['deny-packages', 'telnetd', 'telnetd'], ['deny-packages', 'telnetd'], ['inbound', '8080/tcp', '8080'], ['outbound', 'deb.debian.org:443', 'deb.debian.org:443']]) {
    const r = await prescient(home, ['policy', 'add', ...args]);
    assert.equal(r.code, 0, r.stderr);
  }
  const shown = await prescient(home, ['policy', 'show']);
  assert.deepEqual(shown.json.packages.deny, ['telnetd']);
  assert.deepEqual(shown.json.inbound.allow, [{ port: 8080, protocol: 'tcp' }]);
  assert.deepEqual(shown.json.outbound.allow, [{ host: 'deb.debian.org', port: 443 }]);
});
