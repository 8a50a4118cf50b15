import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { applyRetention, validateRetention } from './retention.js';
import { openSqliteStore } from './sqlite/sqlite-store.js';

test('retention keeps raw events for rawDays and rollups for rollupDays', async () => {
  const store = openSqliteStore({ file: join(mkdtempSync(join(tmpdir(), 'prescient-retention-')), 'db') });
  try {
    const now = Date.UTC(2025, 0, 31);
    const day = 86_400_000;
    const e = (ageDays: number) => ({ kind: 'resource' as const, subject: 'v_r', subjectKind: 'vm' as const, source: 'hypervisor' as const, time: now - ageDays * day, cpuPercent: ageDays });
    await store.write([e(1), e(10), e(100)]);
    assert.deepEqual(await applyRetention(store, validateRetention({ rawDays: 7, rollupDays: 30 }), now), { rawDeleted: 2, rollupsDeleted: 1 });
    assert.equal((await store.counts()).resource, 1);
    assert.deepEqual((await store.rollups('v_r')).map((r) => r.mean.cpuPercent), [10, 1]);
    assert.deepEqual(await applyRetention(store, {}, now), { rawDeleted: 0, rollupsDeleted: 0 });
    assert.throws(() => validateRetention({ rawDays: 30, rollupDays: 7 }), /rollupDays/);
    assert.throws(() => validateRetention({ rawDays: -1 }), /rawDays/);
  } finally {
    await store.close();
  }
});
