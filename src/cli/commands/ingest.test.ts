import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openPrescient } from '../../app/open-prescient.js';
import { sampleTelemetry } from '../../demo/sample-telemetry.js';
import { datasetsDir, prescient } from '../../../test/support/cli.js';

const noDatasets = existsSync(datasetsDir) ? false : `${datasetsDir} is absent: the public traces are not on this machine`;

/** Non-empty lines of every file under `dir` whose name passes `keep`, minus `skipFirst` per file. */
function countLines(dir: string, keep: (name: string) => boolean, skipFirst = 0): number {
  let n = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) n += countLines(p, keep, skipFirst);
    else if (keep(name)) n += readFileSync(p, 'utf8').split('\n').filter((l) => l.trim() !== '').length - skipFirst;
  }
  return n;
}

/**
 * Distinct rows of every Bitbrains file under `dir` (by value: `0` and `0.0` are one), header skipped: the
 * trace repeats some rows whole (10,390 of 832,073), the same sample of one VM at one second, stored once.
 */
function distinctRows(dir: string, keep: (name: string) => boolean = (n) => n.endsWith('.csv')): number {
  let n = 0;
  for (const name of readdirSync(dir)) {
    if (!keep(name)) continue;
    const rows = readFileSync(join(dir, name), 'utf8').split('\n').slice(1).filter((l) => l.trim() !== '');
    n += new Set(rows.map((l) => l.split(';').map((x) => Number(x.trim())).join())).size;
  }
  return n;
}

test('the Bitbrains, PlanetLab and Schonlau traces import completely', { skip: noDatasets }, async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'prescient-datasets-'));
  t.after(() => rmSync(home, { recursive: true, force: true })); // about 330 MB
  const cases = [
    { dir: 'bitbrains-rnd-2013-7', format: 'bitbrains', expected: countLines(join(datasetsDir, 'bitbrains-rnd-2013-7'), (n) => n.endsWith('.csv'), 1), subjects: 100 },
    { dir: 'planetlab', format: 'planetlab', expected: countLines(join(datasetsDir, 'planetlab'), () => true), subjects: undefined },
    { dir: 'schonlau', format: 'commands', expected: countLines(join(datasetsDir, 'schonlau'), (n) => /^User\d+$/.test(n)), subjects: 25 },
  ];
  const bitbrainsStored = distinctRows(join(datasetsDir, 'bitbrains-rnd-2013-7'));
  for (const c of cases) {
    const r = await prescient(home, ['ingest', join(datasetsDir, c.dir), '--format', c.format]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json.rejected, 0, JSON.stringify(r.json.errors.slice(0, 3)));
    assert.equal(r.json.records, c.expected, `${c.dir}: records read`);
    assert.equal(r.json.accepted, c.expected, `${c.dir}: records accepted`);
    assert.equal(r.json.alreadyStored, c === cases[0] ? c.expected - bitbrainsStored : 0, `${c.dir}: records repeated in the trace`);
  }
  const ingestion = await (await openPrescient({ home })).ingestion();
  try {
    const counts = await ingestion.store.counts();
    assert.equal(counts.resource, bitbrainsStored + cases[1]!.expected);
    assert.equal(counts.command, cases[2]!.expected);
    const users = await ingestion.store.listSubjects({ kind: 'user' });
    assert.equal(users.length, 25);
    // One user's stream comes back whole and in order.
    const user1 = ingestion.anonymiser.pseudonym('user', 'User1');
    const seq = await ingestion.store.sequence(user1);
    const file = readFileSync(join(datasetsDir, 'schonlau', 'User1'), 'utf8').split('\n').map((l) => l.trim()).filter(Boolean);
    assert.deepEqual(seq.map((s) => s.name), file);
    // A Bitbrains VM's 5-minute series has one bucket per row of its file.
    const vm1 = ingestion.anonymiser.pseudonym('vm', '1');
    const rows = distinctRows(join(datasetsDir, 'bitbrains-rnd-2013-7'), (n) => n === '1.csv');
    const buckets = await ingestion.store.rollups(vm1);
    assert.equal(buckets.reduce((n, b) => n + (b.samples.cpuPercent ?? 0), 0), rows);
  } finally {
    await ingestion.close();
  }
});

test('the documented CSV imports; a malformed row is reported with its line and reason', async () => {
  const home = mkdtempSync(join(tmpdir(), 'prescient-csv-'));
  const dir = join(home, 'in');
  mkdirSync(dir);
  writeFileSync(
    join(dir, 'a.csv'),
    [
      'time,subject,category,source,cpu_cores,cpu_percent,memory_bytes,memory_total_bytes,disk_read_bps,disk_write_bps,net_in_bps,net_out_bps',
      '2024-05-01T10:00:00Z,vm:web-1,web,hypervisor,4,37.5,2147483648,8589934592,1024,2048,100000,50000',
      '1714557900000,vm:web-1,,,4,40,,,,,,',
      '2024-05-01T10:10:00Z,vm:web-1,web,hypervisor,4,abc,1,1,1,1,1,1',
      '2024-05-01T10:15:00Z,web-1,web,hypervisor,4,1,1,1,1,1,1,1',
    ].join('\n'),
  );
  const r = await prescient(home, ['ingest', dir, '--format', 'csv']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.json.accepted, 2);
  assert.equal(r.json.rejected, 2);
  assert.deepEqual(
    r.json.errors.map((e: { at: string }) => e.at),
    [`${join(dir, 'a.csv')}:4`, `${join(dir, 'a.csv')}:5`],
  );
  assert.match(r.json.errors[0].reason, /cpu_percent: not a number/);
  assert.match(r.json.errors[1].reason, /^subject/);
  const bad = await prescient(home, ['ingest', dir, '--format', 'nope']);
  assert.equal(bad.code, 2, 'an unknown format is a usage error');
  const none = await prescient(home, ['ingest', join(home, 'missing'), '--format', 'csv']);
  assert.equal(none.code, 2);
  // Nothing valid at all is invalid input (2), with the same report; some valid records are a success.
  writeFileSync(join(home, 'garbage.ndjson'), 'not json\n{"kind":"resource"}\n');
  const garbage = await prescient(home, ['ingest', join(home, 'garbage.ndjson'), '--format', 'ndjson']);
  assert.equal(garbage.code, 2, garbage.stderr);
  assert.deepEqual([garbage.json.accepted, garbage.json.rejected], [0, 2]);
});

test('an OTLP JSON file (one request per line, as the Collector file exporter writes) imports', async () => {
  const home = mkdtempSync(join(tmpdir(), 'prescient-otlpfile-'));
  const t = Date.UTC(2024, 0, 1);
  const req = (ms: number, v: number) => ({
    resourceMetrics: [
      {
        resource: { attributes: [{ key: 'host.name', value: { stringValue: 'h1' } }] },
        scopeMetrics: [{ metrics: [{ name: 'system.memory.usage', sum: { dataPoints: [{ attributes: [{ key: 'state', value: { stringValue: 'used' } }], timeUnixNano: String(ms * 1e6), asInt: String(v) }] } }] }],
      },
    ],
  });
  const file = join(home, 'metrics.json');
  writeFileSync(file, `${JSON.stringify(req(t, 100))}\n${JSON.stringify(req(t + 60_000, 200))}\n`);
  const r = await prescient(home, ['ingest', file, '--format', 'otlp', '--source', 'hypervisor']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.json.accepted, 2);
});

test('an ingest run twice, or cut halfway and then run whole, stores every event once: counts, rollups and flows as after one run', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'prescient-ingestonce-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const lines = [...sampleTelemetry({ days: 1, endMs: Date.UTC(2026, 10, 28) })].map((e) => JSON.stringify(e));
  const whole = join(dir, 'tel.ndjson');
  const half = join(dir, 'half.ndjson');
  writeFileSync(whole, `${lines.join('\n')}\n`);
  writeFileSync(half, lines.slice(0, lines.length >> 1).join('\n')); // cut mid-file: its last line whole
  /** What a user checks after an ingest: the store's counts, and one subject's rollups and flows. */
  const stored = async (home: string) => {
    const ingestion = await (await openPrescient({ home })).ingestion();
    try {
      const shop = ingestion.anonymiser.pseudonym('client', 'webshop');
      return { counts: await ingestion.store.counts(), rollups: await ingestion.store.rollups(shop), flows: await ingestion.store.flows(shop) };
    } finally {
      await ingestion.close();
    }
  };
  const once = join(dir, 'once');
  const first = await prescient(once, ['ingest', whole, '--format', 'ndjson']);
  assert.equal(first.code, 0, first.stderr);
  assert.deepEqual([first.json.accepted, first.json.alreadyStored], [lines.length, 0]);
  const expected = await stored(once);
  assert.ok(expected.counts.resource > 0 && expected.counts.launch > 0 && expected.counts.flow > 0, JSON.stringify(expected.counts));

  const again = await prescient(once, ['ingest', whole, '--format', 'ndjson']);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual([again.json.accepted, again.json.alreadyStored], [lines.length, lines.length]);
  assert.deepEqual(await stored(once), expected);

  const resumed = join(dir, 'resumed');
  const cut = await prescient(resumed, ['ingest', half, '--format', 'ndjson']);
  assert.deepEqual([cut.code, cut.json.accepted, cut.json.alreadyStored], [0, lines.length >> 1, 0]);
  const rest = await prescient(resumed, ['ingest', whole, '--format', 'ndjson']);
  assert.deepEqual([rest.code, rest.json.accepted, rest.json.alreadyStored], [0, lines.length, lines.length >> 1]);
  assert.deepEqual(await stored(resumed), expected);
});
