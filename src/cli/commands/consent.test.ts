import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { paths } from '../../core/config.js';
import { openPrescient } from '../../app/open-prescient.js';
import { prescient } from '../../../test/support/cli.js';

const marker = 'agentonlyprogzz';

function events(file: string, t: number): string {
  const lines = [];
  for (let i = 0; i < 5; i++) {
    lines.push({ kind: 'command', time: t + i, subject: 'vm:guest-1', source: 'agent', command: `${marker} --flag` });
    lines.push({ kind: 'resource', time: t + i, subject: 'vm:guest-1', source: 'agent', cpuPercent: 42 });
  }
  lines.push({ kind: 'command', time: t, subject: 'vm:guest-1', source: 'hypervisor', command: 'hostside' });
  writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n'));
  return file;
}

test('in-guest data needs consent; revoke deletes it, also across a key rotation', async () => {
  const home = mkdtempSync(join(tmpdir(), 'prescient-consent-'));
  const file = events(join(home, 'e.ndjson'), Date.UTC(2024, 5, 1));

  const refused = await prescient(home, ['ingest', file, '--format', 'ndjson']);
  assert.equal(refused.code, 0, refused.stderr);
  assert.equal(refused.json.accepted, 1);
  assert.equal(refused.json.refused, 10);
  assert.match(refused.json.errors[0].reason, /consent/);
  const ls0 = await prescient(home, ['consent', 'ls']);
  assert.deepEqual(ls0.json, { granted: [], refusedForWantOfConsent: 10 });

  const granted = await prescient(home, ['consent', 'grant', 'vm:guest-1']);
  assert.equal(granted.code, 0, granted.stderr);
  assert.match(granted.json.pseudonym, /^v_/);
  const ok = await prescient(home, ['ingest', file, '--format', 'ndjson']);
  assert.equal(ok.json.accepted, 11);
  assert.equal(ok.json.refused, 0);

  // A rotation: new data gets new pseudonyms, the consent given before still counts.
  assert.equal((await prescient(home, ['keys', 'rotate'])).code, 0);
  const afterRotation = await prescient(home, ['ingest', file, '--format', 'ndjson']);
  assert.equal(afterRotation.json.accepted, 11);

  const revoked = await prescient(home, ['consent', 'revoke', 'vm:guest-1']);
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.equal(revoked.json.deletedRecords, 20);
  const ingestion = await (await openPrescient({ home })).ingestion();
  try {
    for (const p of ingestion.anonymiser.pseudonymsUnderAllKeys('vm', 'guest-1')) {
      const seq = await ingestion.store.sequence(p);
      assert.ok(seq.length > 0 && seq.every((s) => s.source === 'hypervisor' && s.name === 'hostside'), JSON.stringify(seq));
      assert.deepEqual(await ingestion.store.rollups(p), []);
    }
    assert.equal((await ingestion.store.counts()).resource, 0);
  } finally {
    await ingestion.close();
  }
  // Deleted means gone from the file, not just unreachable.
  assert.equal(readFileSync(paths(home).store).indexOf(marker), -1);
  const again = await prescient(home, ['ingest', file, '--format', 'ndjson']);
  assert.equal(again.json.refused, 10);
  assert.equal((await prescient(home, ['consent', 'grant', 'nobody'])).code, 2);
});
