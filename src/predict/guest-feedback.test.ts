import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import type { AnonymisedEvent } from '../contracts/anonymised-event.js';
import { applyGuestUse, minObservedMsForUnused } from './guest-feedback.js';
import { createPredictor } from './predict-vector.js';
import { storeHistory } from './store-history.js';

/** In-guest history (a real store) feeding the next prediction: hand installs in, unused software down. */
const t0 = Date.UTC(2026, 11, 1);
const agent = { subject: 'c_fb', subjectKind: 'client' as const, source: 'agent' as const, image: `sha256:${'d'.repeat(64)}` };

function guestHours(hours: number): AnonymisedEvent[] {
  const out: AnonymisedEvent[] = [];
  for (let m = 0; m <= hours * 60; m += 5) out.push({ ...agent, kind: 'resource', time: t0 + m * 60_000, cpuPercent: 5, cpuCores: 2 });
  out.push(
    { ...agent, kind: 'access', time: t0 + 1000, target: 'dpkg:sl', op: 'write', bytes: 0 },
    { ...agent, kind: 'launch', time: t0 + 2000, executable: 'git' },
    { ...agent, kind: 'flow', time: t0 + 3000, direction: 'in', protocol: 'tcp', port: 6379, remote: '*', bytes: 0 },
    { ...agent, kind: 'flow', time: t0 + 3000, direction: 'in', protocol: 'tcp', port: 5432, remote: '*', bytes: 0, outcome: 'refused' },
  );
  return out;
}

async function withStore(hours: number, work: (s: ReturnType<typeof openSqliteStore>) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'prescient-feedback-'));
  const store = openSqliteStore({ file: join(dir, 'store.db') });
  try {
    await store.grantConsent(['c_fb'], t0);
    await store.write(guestHours(hours));
    await work(store);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a package installed by hand in the guest is in the next vector; a refused connection opens no port', async () => {
  await withStore(2, async (store) => {
    const dir = mkdtempSync(join(tmpdir(), 'prescient-models-'));
    try {
      const vector = await createPredictor({ history: storeHistory(store), modelsDir: dir }).predict({ clientId: 'c_fb', now: new Date(t0 + 3 * 3600_000) });
      // sl installed by hand; redis-server from connections seen on its port.
      assert.deepEqual(
        vector.software.map((s) => [s.name, s.probability]),
        [
          ['sl', 0.9],
          ['redis-server', 0.9],
        ],
      );
      // A refused connection is no sign of a service: no postgresql port from it.
      assert.ok(!vector.network.inbound.some((p) => p.port === 5432));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test('a predicted package never used over an hour of guest data loses half its probability; used ones keep theirs', async () => {
  await withStore(2, async (store) => {
    const use = await storeHistory(store).guestUse!('c_fb');
    assert.ok(use && use.observedMs >= minObservedMsForUnused);
    const before = [
      { name: 'git', probability: 0.8, programs: ['git'] },
      { name: 'redis-server', probability: 0.9, programs: [] },
      { name: 'htop', probability: 0.7, programs: ['htop'] },
      { name: 'sl', probability: 0.3, programs: ['sl'] },
    ];
    const r = applyGuestUse(before, use!);
    assert.deepEqual(
      r.software.map((s) => [s.name, s.probability]),
      [
        ['redis-server', 0.9], // its port got connections
        ['sl', 0.9], // installed by hand: raised
        ['git', 0.8], // launched
        ['htop', 0.35], // never used: halved
      ],
    );
    assert.deepEqual(r.notes, ['htop: predicted, never used in the guest']);
  });
  // Too little guest data: absence of use says nothing yet.
  await withStore(0.25, async (store) => {
    const use = await storeHistory(store).guestUse!('c_fb');
    assert.equal(applyGuestUse([{ name: 'htop', probability: 0.7, programs: ['htop'] }], use!).software.find((s) => s.name === 'htop')!.probability, 0.7);
  });
});
