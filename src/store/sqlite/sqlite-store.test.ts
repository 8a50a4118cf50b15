import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { storeContract } from '../store-contract.js';
import { openSqliteStore } from './sqlite-store.js';

storeContract('sqlite', async () => openSqliteStore({ file: join(mkdtempSync(join(tmpdir(), 'prescient-store-')), 'prescient.db') }));

test('sqlite: a subject deleted by another connection (a revoke from the CLI while serve runs) is written anew', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'prescient-store-')), 'prescient.db');
  const serve = openSqliteStore({ file });
  const cli = openSqliteStore({ file });
  const t0 = Date.UTC(2024, 0, 1);
  try {
    await serve.grantConsent(['v_x'], t0);
    await serve.write([{ kind: 'resource', subject: 'v_x', subjectKind: 'vm', source: 'agent', time: t0, cpuPercent: 1 }]);
    assert.equal((await cli.revokeConsent(['v_x'])).deleted, 1);
    assert.deepEqual(await cli.listSubjects(), []);
    await serve.write([{ kind: 'resource', subject: 'v_x', subjectKind: 'vm', source: 'hypervisor', time: t0 + 1000, cpuPercent: 2 }]);
    assert.deepEqual((await cli.listSubjects()).map((s) => [s.subject, s.firstMs]), [['v_x', t0 + 1000]]);
    assert.deepEqual((await cli.rollups('v_x')).map((r) => r.mean), [{ cpuPercent: 2 }]);
  } finally {
    await serve.close();
    await cli.close();
  }
});
