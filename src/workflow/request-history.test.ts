import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { RequestHistory } from './request-history.js';

test('the request history keeps pseudonyms, never accounts; it is 0600, rotates by size, and rewrites an old file without its accounts', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'prescient-history-'));
  try {
    const file = join(dir, 'request-history.jsonl');
    // A file as older versions wrote it: whole requests, e-mail addresses in clear, 0644.
    await writeFile(file, `${JSON.stringify({ at: '2026-11-01T09:00:00Z', clientId: 'webshop', request: { account: 'ops@webshop.example', base: 'debian-12', parameters: { team: 'Alice Smith' } } })}\n{"torn":`, { mode: 0o644 });
    const history = new RequestHistory(file, { pseudonym: (a) => `u_${Buffer.from(a).toString('base64url').padEnd(22, 'x').slice(0, 22)}`, maxBytes: 600 });
    assert.deepEqual(await history.load(), [{ at: '2026-11-01T09:00:00Z', clientId: 'webshop', base: 'debian-12' }]);
    assert.ok(!(await readFile(file, 'utf8')).includes('@'), 'the old file is rewritten without accounts');
    assert.equal((await stat(file)).mode & 0o777, 0o600);

    for (let i = 0; i < 10; i++) await history.record({ at: `2026-11-0${(i % 9) + 1}T10:00:00Z`, clientId: 'webshop', category: 'web', matchedBy: 'rules[0]', account: 'ops@webshop.example' });
    const entries = await history.load();
    assert.ok(entries.length > 3 && entries.length < 11, `${entries.length} entries kept across the two generations`);
    assert.deepEqual(entries.at(-1), { at: '2026-11-01T10:00:00Z', clientId: 'webshop', category: 'web', matchedBy: 'rules[0]', accountPseudonym: 'u_b3BzQHdlYnNob3AuZXhhbX' });
    for (const f of [file, history.rotated]) {
      const st = await stat(f);
      assert.equal(st.mode & 0o777, 0o600, f);
      assert.ok(st.size < 600 + 200, `${f}: ${st.size} bytes`);
      assert.ok(!(await readFile(f, 'utf8')).includes('webshop.example'), f);
    }
    // Without a pseudonymiser the account is dropped, not kept.
    const bare = new RequestHistory(join(dir, 'bare.jsonl'));
    await bare.record({ at: '2026-11-01T10:00:00Z', clientId: 'blog', account: 'me@blog.example' });
    assert.deepEqual(await bare.load(), [{ at: '2026-11-01T10:00:00Z', clientId: 'blog' }]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
