import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openPrescient } from '../app/open-prescient.js';
import type { TelemetryEvent } from '../contracts/telemetry-event.js';
import { storeHistory, uncategorised } from './store-history.js';
import { resourceStepMs } from './history.js';
import { parsePolicy } from '../policy/policy.js';
import { createPredictor } from './predict-vector.js';

test('prediction reads the telemetry store: subjects, gap-filled rollups, launches, flows, data accesses', async () => {
  const home = await mkdtemp(join(tmpdir(), 'prescient-store-history-'));
  const ingestion = await (await openPrescient({ home })).ingestion();
  try {
    const t0 = Date.UTC(2026, 10, 1);
    const vm = { kind: 'vm' as const, id: 'vm-1' };
    const events: TelemetryEvent[] = [
      // Buckets 0, 1 and 3: bucket 2 is missing and must repeat bucket 1.
      ...[0, 1, 3].map((b) => ({ kind: 'resource' as const, time: t0 + b * resourceStepMs, subject: vm, category: 'web', source: 'hypervisor' as const, cpuCores: 4, cpuPercent: 10 * (b + 1), memoryBytes: 2 * 1024 ** 3, memoryTotalBytes: 8 * 1024 ** 3, netInBps: 2048 })),
      { kind: 'launch', time: t0 + 1000, subject: vm, source: 'hypervisor', executable: '/usr/sbin/nginx' },
      { kind: 'command', time: t0 + 2000, subject: vm, source: 'hypervisor', command: 'psql -U app shop' },
      { kind: 'flow', time: t0 + 3000, subject: vm, source: 'hypervisor', direction: 'in', protocol: 'tcp', port: 443, remote: '192.0.2.7', bytes: 100 },
      { kind: 'access', time: t0 + 4000, subject: vm, source: 'hypervisor', target: '/srv/data/catalogue.sql', bytes: 5000, op: 'read' },
      { kind: 'resource', time: t0, subject: { kind: 'vm', id: 'vm-2' }, source: 'hypervisor', cpuPercent: 50 },
    ];
    const report = await ingestion.ingestor.ingest({ events });
    assert.equal(report.accepted, events.length);
    const history = storeHistory(ingestion.store);
    const subjects = await history.subjects();
    assert.equal(subjects.length, 2);
    const web = subjects.find((s) => s.category === 'web')!;
    assert.ok(web.id.startsWith('v_'), 'subjects are pseudonyms');
    assert.equal(subjects.find((s) => s !== web)!.category, uncategorised);
    const series = (await history.resourceSeries(web.id))!;
    assert.deepEqual([...series.cpuPercent], [10, 20, 20, 40]);
    assert.deepEqual([...series.memoryPercent!], [25, 25, 25, 25]);
    assert.deepEqual([...series.networkInKBps!], [2, 2, 2, 2]);
    assert.deepEqual(series.capacity, { cpuCores: 4, cpuMhz: 0, memoryMiB: 8192 });
    assert.deepEqual((await history.launches(web.id)).map((l) => l.program), ['nginx', 'psql']);
    assert.deepEqual(await history.networkFlows(web.id), [{ direction: 'inbound', port: 443, protocol: 'tcp', count: 1 }]);
    assert.deepEqual((await history.dataAccesses(web.id)).map((d) => [d.target, d.sizeBytes, d.count]), [['/srv/data/catalogue.sql', 5000, 1]]);
  } finally {
    await ingestion.close();
    await rm(home, { recursive: true, force: true });
  }
});

test('telemetry describes, it never commands: host paths stay observations, ports and destinations stay within the policy', async () => {
  const home = await mkdtemp(join(tmpdir(), 'prescient-store-history-'));
  const ingestion = await (await openPrescient({ home })).ingestion();
  try {
    const t0 = Date.UTC(2026, 10, 1);
    const subject = 'client:ledger';
    const at = (i: number): number => t0 + i * 1000;
    // What an attacker would send for someone else's client (finding 1 and 4 of issue 13).
    const events: TelemetryEvent[] = [
      ...['secrets/admin.secret', 'secrets/grant-hmac.key', join(home, 'secrets', 'admin.secret'), '/etc/shadow', '/srv/no/such/file', 'catalogue'].map(
        (target, i): TelemetryEvent => ({ kind: 'access', time: at(i), subject: { kind: 'client', id: 'ledger' }, source: 'hypervisor', target, bytes: 4096, op: 'read' }),
      ),
      { kind: 'flow', time: at(10), subject: { kind: 'client', id: 'ledger' }, source: 'hypervisor', direction: 'in', protocol: 'tcp', port: 23, remote: '198.51.100.7', bytes: 10 },
      { kind: 'flow', time: at(11), subject: { kind: 'client', id: 'ledger' }, source: 'hypervisor', direction: 'in', protocol: 'tcp', port: 6379, remote: '198.51.100.7', bytes: 10 },
      { kind: 'flow', time: at(12), subject: { kind: 'client', id: 'ledger' }, source: 'hypervisor', direction: 'out', protocol: 'tcp', port: 443, remote: 'exfil.example', bytes: 10 },
      { kind: 'flow', time: at(13), subject: { kind: 'client', id: 'ledger' }, source: 'hypervisor', direction: 'out', protocol: 'tcp', port: 443, remote: 'deb.debian.org', bytes: 10 },
    ];
    assert.equal((await ingestion.ingestor.ingest({ events })).accepted, events.length, subject);
    const client = ingestion.anonymiser.pseudonym('client', 'ledger');
    const policy = parsePolicy({ datasets: [{ name: 'catalogue', kind: 'file', path: '/srv/exports/catalogue.sql', maxBytes: 1 << 20 }], outbound: { allow: [{ host: 'deb.debian.org', port: 443 }] } });
    const predictor = createPredictor({ history: storeHistory(ingestion.store), modelsDir: join(home, 'models'), policy: async () => policy });
    const v = await predictor.predict({ clientId: client });
    // Only the catalogued name became a dataset, by name; every host path stayed an observation.
    assert.deepEqual(v.datasets.map((d) => [d.source, d.destination]), [['catalogue', '/var/lib/prescient/datasets/catalogue']]);
    assert.ok(!JSON.stringify(v).includes('secret') && !JSON.stringify(v).includes('shadow'), JSON.stringify(v.datasets));
    // 6379 is redis's known port (a predicted service); 23 has no service and no admin rule: not opened.
    assert.deepEqual(v.network.inbound, [{ port: 6379, protocol: 'tcp' }]);
    assert.ok(v.services.some((s) => s.name === 'redis-server'));
    assert.deepEqual(v.network.outbound, [{ host: 'deb.debian.org', port: 443, protocol: 'tcp' }]);
    // The safe default (no policy file): no dataset and no outbound destination at all.
    const strict = await createPredictor({ history: storeHistory(ingestion.store), modelsDir: join(home, 'models') }).predict({ clientId: client });
    assert.deepEqual([strict.datasets, strict.network.outbound], [[], []]);
    assert.deepEqual(strict.network.inbound, [{ port: 6379, protocol: 'tcp' }]);
  } finally {
    await ingestion.close();
    await rm(home, { recursive: true, force: true });
  }
});
