import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Credentials } from './credentials.js';
import { Grants } from './grants.js';

// `serve` keeps the credentials file cached by its identity; `prescient credentials issue|revoke`
// is another process that replaces the file. Rotations back to back (same size, often the same
// millisecond) must each be seen by the very next grant and the very next check of a token.
test('a rotation or a revoke by another process is seen by the next grant and the next token check', async () => {
  const secretsDir = await mkdtemp(join(tmpdir(), 'prescient-credentials-'));
  try {
    const serve = await Grants.open({ secretsDir });
    const cli = await Credentials.open(secretsDir);
    await cli.issue('acme');
    let grant = serve.grantFor('acme');
    assert.equal(serve.verify(grant.token).sub, 'acme');
    for (let i = 0; i < 25; i++) {
      const before = serve.credentials.generationOf({ kind: 'client', clientId: 'acme' });
      const secret = (await cli.issue('acme')).secret; // rotated, as `prescient credentials issue acme`
      assert.throws(() => serve.verify(grant.token), /revoked/, `rotation ${i}: the old grant still verified`);
      assert.notEqual(serve.credentials.generationOf({ kind: 'client', clientId: 'acme' }), before, `rotation ${i}: same generation`);
      assert.deepEqual(serve.credentials.authenticate('acme', secret), { kind: 'client', clientId: 'acme' });
      grant = serve.grantFor('acme');
      assert.equal(serve.verify(grant.token).sub, 'acme');
    }
    await cli.revoke('acme');
    assert.throws(() => serve.verify(grant.token), /revoked/);
    assert.equal(serve.credentials.generationOf({ kind: 'client', clientId: 'acme' }), 'none');
  } finally {
    await rm(secretsDir, { recursive: true, force: true });
  }
});
