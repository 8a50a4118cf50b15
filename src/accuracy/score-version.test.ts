import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { PipelinePlan } from '../pipeline/plan.js';
import { packageIndexFrom } from '../predict/package-index.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import type { AnonymisedEvent } from '../contracts/anonymised-event.js';
import { webDbVector } from '../../test/support/vectors.js';
import { scoreVersion } from './score-version.js';

/** One version's in-guest minutes, written to and read back from a real store, then scored. */
test('a version is scored: resources against the allocation, software used/unused/missing, ports, datasets', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'prescient-accuracy-'));
  const store = openSqliteStore({ file: join(dir, 'store.db') });
  try {
    const vector = webDbVector([{ source: '/srv/src.bin', destination: '/srv/data/a.bin', sizeBytes: 10 }], {
      software: [
        { name: 'nginx', probability: 0.95 },
        { name: 'postgresql', probability: 0.9, programs: ['psql'] },
        { name: 'git', probability: 0.8 },
        { name: 'htop', probability: 0.7 },
      ],
    });
    const plan: PipelinePlan = {
      spec: { vcpus: 4, memoryMiB: 8192, diskGiB: 8, swapMiB: 0, hostname: 'x' },
      modules: [
        { id: 'software', version: 1, options: {}, notes: [], changes: [{ kind: 'install-packages', packages: ['git', 'htop'] }] },
        { id: 'services', version: 1, options: {}, notes: [], changes: [{ kind: 'install-packages', packages: ['nginx', 'postgresql'] }] },
        { id: 'network', version: 1, options: {}, notes: [], changes: [{ kind: 'install-packages', packages: ['nftables'] }] },
        {
          id: 'data',
          version: 1,
          options: {},
          notes: [],
          changes: [
            { kind: 'copy-data', dataset: 'src', sha256: 'a'.repeat(64), sizeBytes: 10, destination: '/srv/data/a.bin', mode: 0o644, uid: 0, gid: 0 },
            { kind: 'copy-data', dataset: 'src2', sha256: 'b'.repeat(64), sizeBytes: 10, destination: '/srv/data/b.bin', mode: 0o644, uid: 0, gid: 0 },
          ],
        },
      ],
    };
    const t0 = Date.UTC(2026, 11, 1);
    const e = { subject: 'c_x', subjectKind: 'client' as const, source: 'agent' as const, image: `sha256:${'c'.repeat(64)}` };
    const events: AnonymisedEvent[] = [];
    // 100 minutes on 4 vCPUs and 8 GiB: CPU 10 % of the machine (0.4 vCPU), 20 minutes at 99 %.
    for (let i = 0; i < 100; i++) {
      events.push({ ...e, kind: 'resource', time: t0 + i * 60_000, cpuCores: 4, cpuPercent: i < 20 ? 99 : 10, memoryBytes: 2048 * 1024 ** 2, memoryTotalBytes: 8000 * 1024 ** 2 });
    }
    events.push(
      { ...e, kind: 'launch', time: t0 + 1, executable: 'psql' },
      { ...e, kind: 'launch', time: t0 + 2, executable: 'bash' },
      { ...e, kind: 'command', time: t0 + 3, program: 'cowsay', outcome: 'not-found' },
      { ...e, kind: 'command', time: t0 + 3, program: 'sl', outcome: 'not-found' },
      { ...e, kind: 'command', time: t0 + 3, program: 'frobnicate', outcome: 'not-found' },
      { ...e, kind: 'access', time: t0 + 4, target: 'dpkg:sl', op: 'write', bytes: 0 },
      { ...e, kind: 'access', time: t0 + 4, target: 'dpkg:nginx', op: 'write', bytes: 0 }, // in the image already (an upgrade): not missed
      { ...e, kind: 'access', time: t0 + 5, target: '/srv/data/a.bin', op: 'read', bytes: 10 },
      { ...e, kind: 'flow', time: t0 + 6, direction: 'in', protocol: 'tcp', port: 80, remote: '*', bytes: 0 },
      { ...e, kind: 'flow', time: t0 + 7, direction: 'in', protocol: 'tcp', port: 80, remote: '*', bytes: 0 },
      { ...e, kind: 'flow', time: t0 + 6, direction: 'in', protocol: 'tcp', port: 443, remote: '*', bytes: 0, outcome: 'listening' },
      { ...e, kind: 'flow', time: t0 + 6, direction: 'in', protocol: 'tcp', port: 3306, remote: '*', bytes: 0, outcome: 'refused' },
    );
    await store.grantConsent(['c_x'], t0);
    await store.write(events);
    const activity = await store.guestActivity('c_x');
    const r = scoreVersion({
      vector,
      plan,
      spec: plan.spec,
      activity,
      span: { fromMs: t0, toMs: t0 + 99 * 60_000 },
      packages: packageIndexFrom({ psql: 'postgresql-client-15', cowsay: 'cowsay', sl: 'sl', bash: 'bash' }),
    });
    assert.equal(r.observed.samples, 100);
    // p95 of 0.4 (80 minutes) and 3.96 (20 minutes) vCPU is 3.96; the vector expected 55 % of 4 = 2.2.
    assert.deepEqual(r.resources.cpu, { allocated: 4, predictedP95: 2.2, observedP95: 3.96, shareAbovePredicted: 0.2, shareSaturated: 0.2, waste: 0.04, wasteShare: 0.01 });
    assert.deepEqual(r.resources.memory, { allocated: 8192, predictedP95: 5000, observedP95: 2048, shareAbovePredicted: 0, shareSaturated: 0, waste: 6144, wasteShare: 0.75 });
    assert.deepEqual(r.software.used, [
      { package: 'nginx', evidence: ['connections on tcp/80'] },
      { package: 'postgresql', evidence: ['launched psql'] },
    ]);
    assert.deepEqual(r.software.unused, ['git', 'htop']);
    assert.deepEqual(r.software.missing, [
      { package: 'cowsay', program: 'cowsay', how: 'command-not-found' },
      { package: null, program: 'frobnicate', how: 'command-not-found' },
      { package: 'sl', how: 'installed-after-delivery' },
    ]);
    assert.deepEqual(r.services, {
      receiving: [{ port: 80, protocol: 'tcp', connections: 2 }],
      idle: [{ port: 443, protocol: 'tcp', listening: true }],
      refused: [{ port: 3306, protocol: 'tcp', attempts: 1 }],
    });
    assert.deepEqual(r.datasets, [
      { destination: '/srv/data/a.bin', read: true },
      { destination: '/srv/data/b.bin', read: false },
    ]);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
