import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AnonymisedEvent } from '../contracts/anonymised-event.js';
import { resourceFields } from '../contracts/telemetry-event.js';
import { rollupBucketMs, type TelemetryStore } from './store.js';

/**
 * The behaviour every TelemetryStore adapter must have. An adapter's test file calls this with a
 * factory that opens a fresh, empty store (sqlite/sqlite-store.test.ts; postgres/ the same way).
 */
export function storeContract(name: string, open: () => Promise<TelemetryStore>): void {
  const t0 = Date.UTC(2024, 0, 1);
  const base = { subjectKind: 'vm' as const, source: 'hypervisor' as const };

  test(`${name}: rollups are 5-minute buckets with mean, max and counts per resource`, async () => {
    const store = await open();
    try {
      const events: AnonymisedEvent[] = [
        { ...base, kind: 'resource', subject: 'v_a', category: 'web', time: t0 + 1000, cpuPercent: 10, memoryBytes: 100 },
        { ...base, kind: 'resource', subject: 'v_a', time: t0 + 2000, cpuPercent: 30 },
        { ...base, kind: 'resource', subject: 'v_a', source: 'agent', time: t0 + 3000, cpuPercent: 50 },
        { ...base, kind: 'resource', subject: 'v_a', time: t0 + rollupBucketMs, cpuPercent: 5, netInBps: 7 },
        { ...base, kind: 'resource', subject: 'v_b', time: t0, cpuPercent: 99 },
      ];
      await store.grantConsent(['v_a'], t0);
      const w = await store.write(events);
      assert.deepEqual(w, { written: 5, refused: [] });
      // A second batch into the same bucket adds up.
      await store.write([{ ...base, kind: 'resource', subject: 'v_a', time: t0 + 4000, cpuPercent: 70 }]);
      const r = await store.rollups('v_a');
      assert.equal(r.length, 2);
      assert.deepEqual(r[0], { bucketMs: t0, mean: { cpuPercent: 40, memoryBytes: 100 }, max: { cpuPercent: 70, memoryBytes: 100 }, samples: { cpuPercent: 4, memoryBytes: 1 } });
      assert.deepEqual(r[1]!.mean, { cpuPercent: 5, netInBps: 7 });
      assert.deepEqual(await store.rollups('v_a', { fromMs: t0 + rollupBucketMs }), [r[1]]);
      assert.deepEqual(await store.rollups('v_nobody'), []);
      const subjects = await store.listSubjects();
      assert.deepEqual(subjects, [
        { subject: 'v_a', kind: 'vm', category: 'web', firstMs: t0 + 1000, lastMs: t0 + rollupBucketMs },
        { subject: 'v_b', kind: 'vm', category: null, firstMs: t0, lastMs: t0 },
      ]);
      assert.deepEqual((await store.listSubjects({ category: 'web' })).map((s) => s.subject), ['v_a']);
      const counts = await store.counts();
      assert.equal(counts.resource, 6);
      assert.equal(counts.subjects, 2);
    } finally {
      await store.close();
    }
  });

  test(`${name}: column batches store what the same events would, rollups included; agent batches need consent`, async () => {
    const byEvents = await open();
    const byColumns = await open();
    try {
      // Two subjects' samples: one bucket with three samples (one with a field absent), one with one.
      const samples = [
        { time: t0 + 1000, cpuPercent: 10, memoryBytes: 100 },
        { time: t0 + 2000, cpuPercent: 30, memoryBytes: undefined },
        { time: t0 + 3000, cpuPercent: 80, memoryBytes: 300 },
        { time: t0 + rollupBucketMs + 1, cpuPercent: 5, memoryBytes: 7 },
      ];
      await byEvents.write(
        samples.map((x) => ({
          ...base,
          kind: 'resource' as const,
          subject: 'v_col',
          category: 'batch',
          time: x.time,
          cpuPercent: x.cpuPercent,
          ...(x.memoryBytes === undefined ? {} : { memoryBytes: x.memoryBytes }),
        })),
      );
      const values = new Float64Array(samples.length * resourceFields.length).fill(Number.NaN);
      samples.forEach((x, i) => {
        values[i * resourceFields.length + resourceFields.indexOf('cpuPercent')] = x.cpuPercent;
        values[i * resourceFields.length + resourceFields.indexOf('memoryBytes')] = x.memoryBytes ?? Number.NaN;
      });
      // Split in two batches that share a bucket: the second adds to the first's rollup row.
      const batch = (from: number, to: number) => ({
        source: base.source,
        subjects: [{ subject: 'v_col', subjectKind: base.subjectKind, category: 'batch' }],
        rows: to - from,
        time: Float64Array.from(samples.slice(from, to).map((x) => x.time)),
        values: values.slice(from * resourceFields.length, to * resourceFields.length),
      });
      assert.deepEqual(await byColumns.writeResourceColumns(batch(0, 2)), { written: 2, refused: [] });
      assert.deepEqual(await byColumns.writeResourceColumns(batch(2, 4)), { written: 2, refused: [] });
      const expected = await byEvents.rollups('v_col');
      assert.equal(expected.length, 2);
      assert.deepEqual(expected[0]!.samples, { cpuPercent: 3, memoryBytes: 2 });
      assert.deepEqual(await byColumns.rollups('v_col'), expected);
      assert.deepEqual(await byColumns.listSubjects(), await byEvents.listSubjects());
      assert.deepEqual(await byColumns.counts(), await byEvents.counts());

      // Several subjects in one batch; in-guest rows are refused per subject.
      const guests = {
        ...batch(0, 3),
        source: 'agent' as const,
        subjects: [{ subject: 'v_guest', subjectKind: 'vm' as const }, { subject: 'v_other', subjectKind: 'vm' as const }],
        subjectOf: Int32Array.from([0, 1, 0]),
      };
      assert.deepEqual(await byColumns.writeResourceColumns(guests), { written: 0, refused: [0, 1, 2] });
      await byColumns.grantConsent(['v_guest_old'], t0);
      const withAlias = { ...guests, subjects: [{ ...guests.subjects[0]!, aliases: ['v_guest_old'] }, guests.subjects[1]!] };
      assert.deepEqual(await byColumns.writeResourceColumns(withAlias), { written: 2, refused: [1] });
      assert.deepEqual((await byColumns.rollups('v_guest'))[0]!.samples, { cpuPercent: 2, memoryBytes: 2 });
      assert.deepEqual(await byColumns.rollups('v_other'), []);
    } finally {
      await byEvents.close();
      await byColumns.close();
    }
  });

  test(`${name}: sequences are ordered by time then seq; flows and accesses are sets`, async () => {
    const store = await open();
    try {
      await store.write([
        { ...base, kind: 'command', subject: 'u_x', subjectKind: 'user', time: t0, seq: 2, program: 'make' },
        { ...base, kind: 'command', subject: 'u_x', subjectKind: 'user', time: t0, seq: 1, program: 'vim' },
        { ...base, kind: 'launch', subject: 'u_x', subjectKind: 'user', time: t0 - 10, executable: 'firefox', session: 's_1' },
        { ...base, kind: 'flow', subject: 'u_x', subjectKind: 'user', time: t0, direction: 'out', protocol: 'tcp', port: 443, remote: 'pypi.org', bytes: 100 },
        { ...base, kind: 'flow', subject: 'u_x', subjectKind: 'user', time: t0 + 5, direction: 'out', protocol: 'tcp', port: 443, remote: 'pypi.org', bytes: 50 },
        { ...base, kind: 'access', subject: 'u_x', subjectKind: 'user', time: t0, target: 's3://data/set', bytes: 9, op: 'read' },
      ]);
      const seq = await store.sequence('u_x');
      assert.deepEqual(seq.map((s) => s.name), ['firefox', 'vim', 'make']);
      assert.equal(seq[0]!.session, 's_1');
      assert.deepEqual((await store.sequence('u_x', { kinds: ['command'], limit: 1 })).map((s) => s.name), ['vim']);
      assert.deepEqual(await store.flows('u_x'), [{ direction: 'out', protocol: 'tcp', port: 443, remote: 'pypi.org', outcome: null, flows: 2, bytes: 150, firstMs: t0, lastMs: t0 + 5 }]);
      assert.deepEqual(await store.dataAccesses('u_x'), [{ target: 's3://data/set', op: 'read', accesses: 1, bytes: 9, firstMs: t0, lastMs: t0 }]);
    } finally {
      await store.close();
    }
  });

  test(`${name}: agent events need consent; revoking deletes exactly the in-guest data`, async () => {
    const store = await open();
    try {
      const agent = { ...base, source: 'agent' as const };
      const r1 = await store.write([
        { ...agent, kind: 'command', subject: 'v_c', time: t0, program: 'ls' },
        { ...base, kind: 'command', subject: 'v_c', time: t0, program: 'hostlog' },
      ]);
      assert.deepEqual(r1, { written: 1, refused: [0] });
      // Consent granted under an older key is found through the event's aliases.
      await store.grantConsent(['v_c_old'], t0);
      const r2 = await store.write([
        { ...agent, kind: 'command', subject: 'v_c', aliases: ['v_c_old'], time: t0 + 1, program: 'ls' },
        { ...agent, kind: 'resource', subject: 'v_c', aliases: ['v_c_old'], time: t0 + 1, cpuPercent: 3 },
      ]);
      assert.deepEqual(r2, { written: 2, refused: [] });
      assert.deepEqual((await store.consentedPseudonyms()).map((c) => c.pseudonym), ['v_c_old']);
      const { deleted } = await store.revokeConsent(['v_c', 'v_c_old']);
      assert.equal(deleted, 2);
      assert.deepEqual((await store.sequence('v_c')).map((s) => [s.name, s.source]), [['hostlog', 'hypervisor']]);
      assert.deepEqual(await store.rollups('v_c'), []);
      assert.deepEqual(await store.consentedPseudonyms(), []);
      await store.countRejections([{ reason: 'no-consent', source: 'agent', count: 2 }]);
      await store.countRejections([{ reason: 'no-consent', source: 'agent', count: 1 }, { reason: 'invalid', source: 'unknown', count: 4 }]);
      assert.deepEqual(await store.rejections(), [
        { reason: 'invalid', source: 'unknown', count: 4 },
        { reason: 'no-consent', source: 'agent', count: 3 },
      ]);
    } finally {
      await store.close();
    }
  });

  test(`${name}: in-guest activity by image version: spans, outcomes, samples; a revoke removes the spans too`, async () => {
    const store = await open();
    try {
      const agent = { subjectKind: 'client' as const, source: 'agent' as const, subject: 'c_g' };
      const v1 = `sha256:${'1'.repeat(64)}`;
      const v2 = `sha256:${'2'.repeat(64)}`;
      await store.grantConsent(['c_g'], t0);
      await store.write([
        { ...agent, kind: 'resource', time: t0, image: v1, cpuPercent: 10, cpuCores: 2, memoryBytes: 5, memoryTotalBytes: 10 },
        { ...agent, kind: 'launch', time: t0 + 60_000, image: v1, executable: 'psql' },
        { ...agent, kind: 'launch', time: t0 + 61_000, image: v1, executable: 'psql' },
        { ...agent, kind: 'command', time: t0 + 62_000, image: v1, program: 'sl', outcome: 'not-found' },
        { ...agent, kind: 'flow', time: t0 + 62_000, image: v1, direction: 'in', protocol: 'tcp', port: 80, remote: '*', bytes: 0, outcome: 'listening' },
        { ...agent, kind: 'flow', time: t0 + 62_000, image: v1, direction: 'in', protocol: 'tcp', port: 8080, remote: '*', bytes: 0, outcome: 'refused' },
        { ...agent, kind: 'access', time: t0 + 62_000, image: v1, target: 'dpkg:sl', op: 'write', bytes: 0 },
        { ...base, kind: 'resource', subject: 'c_g', subjectKind: 'client', time: t0 + 1, cpuPercent: 99 }, // not in-guest: not in the activity
      ]);
      // Resource samples given column-wise carry their version per subject entry.
      await store.writeResourceColumns({
        source: 'agent',
        subjects: [{ subject: 'c_g', subjectKind: 'client', image: v2 }],
        rows: 1,
        time: Float64Array.from([t0 + 3_600_000]),
        values: Float64Array.from([2, 50, 7, 10, NaN, NaN, NaN, NaN]),
      });
      assert.deepEqual(await store.guestImages('c_g'), [
        { image: v1, firstMs: t0, lastMs: t0 + 62_000 },
        { image: v2, firstMs: t0 + 3_600_000, lastMs: t0 + 3_600_000 },
      ]);
      const a = await store.guestActivity('c_g', { fromMs: t0, toMs: t0 + 62_001 });
      assert.deepEqual(a.samples, [{ time: t0, cpuCores: 2, cpuPercent: 10, memoryBytes: 5, memoryTotalBytes: 10 }]);
      assert.deepEqual(a.programs, [
        { kind: 'launch', name: 'psql', outcome: null, count: 2, lastMs: t0 + 61_000 },
        { kind: 'command', name: 'sl', outcome: 'not-found', count: 1, lastMs: t0 + 62_000 },
      ]);
      assert.deepEqual(a.flows.map((f) => [f.port, f.outcome]), [[80, 'listening'], [8080, 'refused']]);
      assert.deepEqual(a.accesses.map((x) => x.target), ['dpkg:sl']);
      assert.deepEqual((await store.guestActivity('c_g', { fromMs: t0 + 3_600_000 })).samples.map((x) => x.cpuPercent), [50]);
      await store.revokeConsent(['c_g']);
      assert.deepEqual(await store.guestImages('c_g'), []);
      assert.deepEqual((await store.guestActivity('c_g')).programs, []);
    } finally {
      await store.close();
    }
  });

  test(`${name}: retention prunes raw events and rollups separately`, async () => {
    const store = await open();
    try {
      await store.write([
        { ...base, kind: 'resource', subject: 'v_r', time: t0, cpuPercent: 1 },
        { ...base, kind: 'command', subject: 'v_r', time: t0, program: 'old' },
        { ...base, kind: 'resource', subject: 'v_r', time: t0 + 10 * rollupBucketMs, cpuPercent: 2 },
      ]);
      assert.deepEqual(await store.prune({ rawBeforeMs: t0 + 1 }), { rawDeleted: 2, rollupsDeleted: 0 });
      assert.equal((await store.rollups('v_r')).length, 2);
      assert.deepEqual(await store.prune({ rollupsBeforeMs: t0 + rollupBucketMs }), { rawDeleted: 0, rollupsDeleted: 1 });
      assert.equal((await store.counts()).resource, 1);
    } finally {
      await store.close();
    }
  });
}
