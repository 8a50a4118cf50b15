import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { paths } from '../../core/config.js';
import { createApp, listen } from '../app.js';
import { telemetryRoutes } from './telemetry.js';
import { rollupsFileOf } from '../../store/sqlite/sqlite-store.js';
import { openPrescient } from '../../app/open-prescient.js';

/**
 * Personal data fed into every field that takes text, through the real HTTP route, must not be
 * anywhere in the database file or its WAL: not as a value, not in a free page, not in an index.
 */
const personal = {
  email: 'alice.smith@example.com',
  ipv4: '192.168.77.201',
  ipv6: '2001:db8:abcd:1234:5678:9abc:def0:4242',
  home: '/home/zebediah/projects/plan.txt',
  windowsHome: 'C:\\Users\\quintessa\\notes.txt',
  args: 'curl --token Tk9sEcReT -u yolanda:hunter2 https://internal.example.net',
  uri: 'https://wilhelmina:pw0rd@data.example.org/sets/x.csv?owner=wilhelmina@example.org',
};
const combined = Object.values(personal).join(' ');
/** Byte strings that would betray the data above. */
const needles = ['alice.smith', '192.168.77.201', '5678:9abc', 'def0:4242', 'zebediah', 'quintessa', 'Tk9sEcReT', 'yolanda', 'hunter2', 'wilhelmina', 'pw0rd'];

test('no e-mail, IP address, home path or command argument reaches the database file or its WAL', async () => {
  const home = mkdtempSync(join(tmpdir(), 'prescient-privacy-'));
  const ingestion = await (await openPrescient({ home })).ingestion();
  const server = createApp({ routes: [telemetryRoutes({ ingestor: ingestion.ingestor })] });
  const { port } = await listen(server, 0);
  try {
    await ingestion.consent.grant({ kind: 'vm', id: personal.email }); // so agent events are stored too
    const values = [...Object.values(personal), combined];
    const events: Record<string, unknown>[] = [];
    const time = Date.UTC(2024, 3, 1);
    for (const [i, v] of values.entries()) {
      const base = { time: time + i, subject: { kind: 'vm', id: v }, source: 'hypervisor' };
      events.push(
        { ...base, kind: 'resource', cpuPercent: 1 },
        { ...base, subject: { kind: 'vm', id: personal.email }, source: 'agent', kind: 'resource', memoryBytes: 1 },
        { ...base, kind: 'resource', category: v, cpuPercent: 2 },
        { ...base, kind: 'launch', executable: v, user: v, session: v },
        { ...base, kind: 'command', command: v, session: v, task: v },
        { ...base, kind: 'flow', direction: 'out', protocol: v, port: 443, remote: 'pypi.org', bytes: 1 },
        { ...base, kind: 'flow', direction: 'in', protocol: 'tcp', port: 22, remote: v, bytes: 1 },
        { ...base, kind: 'access', target: v, bytes: 1, op: 'read' },
      );
      for (const kind of ['user', 'client'] as const) events.push({ ...base, subject: { kind, id: v }, kind: 'command', command: v });
    }
    const res = await fetch(`http://127.0.0.1:${port}/v1/telemetry`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: events.map((e) => JSON.stringify(e)).join('\n'),
    });
    const report = (await res.json()) as { accepted: number; rejected: number; errors: { reason: string }[] };
    assert.equal(res.status, 200);
    // Most are stored (a category or protocol that is not a slug is refused, which is fine too).
    assert.ok(report.accepted >= events.length - 2 * values.length, JSON.stringify(report));
    // The refusal reasons never quote what they refused.
    for (const needle of needles) assert.ok(!JSON.stringify(report).includes(needle), `the response quotes ${needle}`);

    const check = (when: string): void => {
      const p = paths(home);
      // The store is two SQLite files (events; rollups), each with its WAL.
      for (const file of [p.store, rollupsFileOf(p.store)].flatMap((f) => [f, `${f}-wal`])) {
        if (!existsSync(file)) continue;
        const bytes = readFileSync(file);
        for (const needle of needles) {
          assert.equal(bytes.indexOf(needle), -1, `${when}: ${needle} found in ${file}`);
          assert.equal(bytes.indexOf(Buffer.from(needle, 'utf16le')), -1, `${when}: ${needle} (UTF-16) found in ${file}`);
        }
      }
    };
    assert.ok(existsSync(`${paths(home).store}-wal`), 'the WAL exists while the store is open');
    check('while open');
    // The scrubbed forms did arrive: the test would prove nothing if the fields were dropped.
    const subject = ingestion.anonymiser.pseudonym('vm', personal.home);
    const seq = await ingestion.store.sequence(subject);
    assert.deepEqual(
      seq.map((s) => s.name),
      ['/home/<user>/projects/plan.txt', 'plan.txt'],
    );
    const flows = await ingestion.store.flows(ingestion.anonymiser.pseudonym('vm', personal.ipv4));
    assert.ok(flows.some((f) => f.remote === '192.168.77.0/24'));
    await ingestion.close();
    check('after close');
  } finally {
    await server?.close();
    await ingestion.close();
  }
});
