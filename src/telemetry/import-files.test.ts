import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ValidationError } from '../core/errors.js';
import { importFiles } from './import-files.js';
import { noConsentReason } from './ingest.js';
import { openPrescient } from '../app/open-prescient.js';

const header = 'Timestamp [ms];\tCPU cores;\tCPU capacity provisioned [MHZ];\tCPU usage [MHZ];\tCPU usage [%];\tMemory capacity provisioned [KB];\tMemory usage [KB];\tDisk read throughput [KB/s];\tDisk write throughput [KB/s];\tNetwork received throughput [KB/s];\tNetwork transmitted throughput [KB/s]';
const row = (t: number, cpu: number, mem = 1024): string => [t, 2, 5000, 100, cpu, 8192, mem, 1, 2, 3, 4].join(';\t');

test('Bitbrains bulk import (column-wise): per-file counts, bad rows reported by line, values in bytes, consent for agent data', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'prescient-import-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const dir = join(home, 'in');
  mkdirSync(dir);
  const t0 = 1372629804;
  writeFileSync(join(dir, '1.csv'), [header, row(t0, 10), row(t0 + 300, -5), row(t0 + 600, 30), ''].join('\n'));
  writeFileSync(join(dir, '2.csv'), [header, ...Array.from({ length: 25_000 }, (_, i) => row(t0 + 300 * i, i % 100))].join('\r\n'));
  const ingestion = await (await openPrescient({ home })).ingestion();
  try {
    const seen: string[] = [];
    const r = await importFiles({ path: dir, format: 'bitbrains', ingestor: ingestion.ingestor, onFile: (f) => seen.push(f) });
    assert.deepEqual(seen, [join(dir, '1.csv'), join(dir, '2.csv')]);
    assert.deepEqual(r.perFile, [
      { file: join(dir, '1.csv'), records: 3 },
      { file: join(dir, '2.csv'), records: 25_000 },
    ]);
    assert.equal(r.accepted, 25_002);
    assert.equal(r.rejected, 1);
    assert.deepEqual(r.errors, [{ at: `${join(dir, '1.csv')}:3`, reason: 'cpuPercent: must not be negative' }]);
    const vm1 = ingestion.anonymiser.pseudonym('vm', '1');
    const rollups = await ingestion.store.rollups(vm1);
    assert.deepEqual(rollups.map((b) => b.mean.cpuPercent), [10, 30]);
    assert.equal(rollups[0]!.mean.memoryBytes, 1024 * 1024);
    assert.equal(rollups[0]!.bucketMs % 300_000, 0);
    const vm2 = ingestion.anonymiser.pseudonym('vm', '2');
    assert.equal((await ingestion.store.rollups(vm2)).reduce((n, b) => n + b.samples.cpuPercent!, 0), 25_000);

    // In-guest data of a subject without consent: refused, counted, reported with its line.
    const agent = await importFiles({ path: join(dir, '1.csv'), format: 'bitbrains', source: 'agent', ingestor: ingestion.ingestor });
    assert.equal(agent.accepted, 0);
    assert.equal(agent.refused, 2);
    assert.deepEqual(agent.errors.at(-1), { at: `${join(dir, '1.csv')}:4`, reason: noConsentReason });
    assert.deepEqual(await ingestion.store.rejections(), [
      { reason: 'invalid', source: 'agent', count: 1 },
      { reason: 'invalid', source: 'hypervisor', count: 1 },
      { reason: 'no-consent', source: 'agent', count: 2 },
    ]);

    // A malformed line stops the import with its position, as the line reader does.
    writeFileSync(join(dir, '3.csv'), [header, row(t0, 1), '1;2;3'].join('\n'));
    await assert.rejects(
      importFiles({ path: join(dir, '3.csv'), format: 'bitbrains', ingestor: ingestion.ingestor }),
      (e: unknown) => e instanceof ValidationError && e.field === `${join(dir, '3.csv')}:3` && /expected 11 columns, found 3/.test(e.message),
    );
  } finally {
    await ingestion.close();
  }
});
