import assert from 'node:assert/strict';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { scratchDir } from '../../test/support/images.js';
import { RequestOutcomes } from './request-outcomes.js';

test('the outcome log is readable by its owner only, as the request history is: it names every client and why its requests failed', async () => {
  const { dir, remove } = await scratchDir('prescient-outcomes-');
  try {
    const outcomes = new RequestOutcomes(join(dir, 'home', 'request-outcomes.jsonl'));
    await outcomes.record({ at: '2026-12-02T15:00:00Z', clientId: 'webshop', category: 'web', source: 'error', proactive: false, error: { code: 'FORBIDDEN', message: 'credential of webshop cannot request images of ops-example-com' }, totalMs: 1 });
    assert.equal((await stat(outcomes.file)).mode & 0o777, 0o600);
    assert.equal((await outcomes.load()).length, 1);
    // One written before, world-readable, is made 0600 at the first answer.
    const old = join(dir, 'old', 'request-outcomes.jsonl');
    await mkdir(join(dir, 'old'));
    await writeFile(old, '', { mode: 0o644 });
    await new RequestOutcomes(old).record({ at: '2026-12-02T15:00:00Z', clientId: 'blog', category: 'web', source: 'built', proactive: false, totalMs: 1 });
    assert.equal((await stat(old)).mode & 0o777, 0o600);
  } finally {
    await remove();
  }
});
