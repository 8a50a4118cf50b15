import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { openPrescient } from '../../app/open-prescient.js';
import { prescient } from '../../../test/support/cli.js';

const exporter = '/usr/bin/prometheus-node-exporter';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

test('prescient scrape lands samples from Debian’s prometheus-node-exporter on loopback', { skip: existsSync(exporter) ? false : `${exporter} is not installed (scripts/debian-packages.txt lists it)` }, async () => {
  const port = await freePort();
  const child = spawn(exporter, [`--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
  try {
    const url = `http://127.0.0.1:${port}/metrics`;
    let text = '';
    for (let i = 0; i < 100 && !text; i++) {
      text = await fetch(url).then((r) => r.text()).catch(() => '');
      if (!text) await sleep(100);
    }
    assert.ok(text.includes('node_cpu_seconds_total'), 'node_exporter did not come up');
    const home = mkdtempSync(join(tmpdir(), 'prescient-scrape-'));
    const r = await prescient(home, ['scrape', url, '--source', 'hypervisor', '--interval', '1', '--count', '2']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json.scrapes, 3);
    assert.equal(r.json.accepted, 2);

    const ingestion = await (await openPrescient({ home })).ingestion();
    try {
      const [subject] = await ingestion.store.listSubjects();
      assert.ok(subject, 'no subject stored');
      const seen = new Set((await ingestion.store.rollups(subject.subject)).flatMap((b) => Object.keys(b.samples)));
      const expected = ['cpuCores', 'cpuPercent', 'memoryBytes', 'memoryTotalBytes', 'netInBps', 'netOutBps'];
      if (text.includes('node_disk_read_bytes_total')) expected.push('diskReadBps', 'diskWriteBps');
      for (const f of expected) assert.ok(seen.has(f), `no ${f} (got ${[...seen].join(', ')})`);
      assert.equal((await ingestion.store.counts()).resource, 2);
    } finally {
      await ingestion.close();
    }

    // The exporter runs inside the machine it measures: as agent data it needs consent.
    const refused = await prescient(mkdtempSync(join(tmpdir(), 'prescient-scrape-')), ['scrape', url, '--interval', '0.2']);
    assert.equal(refused.json.accepted, 0);
    assert.equal(refused.json.refused, 1);
  } finally {
    child.kill('SIGTERM');
  }
});
