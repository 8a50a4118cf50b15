import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AnonymisedEvent } from '../contracts/anonymised-event.js';
import { resourceFields } from '../contracts/telemetry-event.js';
import { rollupBucketMs, type TelemetryStore } from './store.js';

export interface ContractOptions {
  /** Two stores (two connections or pools, as two processes would have) on one fresh, empty database. */
  openTwo: () => Promise<[TelemetryStore, TelemetryStore]>;
}

/**
 * The behaviour every TelemetryStore adapter must have. An adapter's test file calls this with a
 * factory that opens a fresh, empty store (sqlite/sqlite-store.test.ts, postgres/postgres-store.test.ts).
 */
export function storeContract(name: string, open: () => Promise<TelemetryStore>, options: ContractOptions): void {
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
      assert.deepEqual(w, { written: 5, alreadyStored: 0, refused: [] });
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

  test(`${name}: subject(pseudonym) is the subject's row of listSubjects, widened by later writes, and undefined for an unknown one`, async () => {
    const [a, b] = await options.openTwo();
    try {
      await a.write([
        { ...base, kind: 'resource', subject: 'v_one', category: 'web', time: t0 + 1000, cpuPercent: 1 },
        { ...base, kind: 'resource', subject: 'v_two', time: t0, cpuPercent: 2 },
      ]);
      assert.deepEqual(await a.subject('v_one'), { subject: 'v_one', kind: 'vm', category: 'web', firstMs: t0 + 1000, lastMs: t0 + 1000 });
      assert.deepEqual(await a.subject('v_two'), (await a.listSubjects()).find((s) => s.subject === 'v_two'));
      assert.equal(await a.subject('v_nobody'), undefined);
      // A later batch (what a request's reuse check must see): a wider span and a new category.
      await a.write([{ ...base, kind: 'resource', subject: 'v_one', category: 'database', time: t0 + 9 * rollupBucketMs, cpuPercent: 3 }]);
      assert.deepEqual(await a.subject('v_one'), { subject: 'v_one', kind: 'vm', category: 'database', firstMs: t0 + 1000, lastMs: t0 + 9 * rollupBucketMs });
      // Another store on the same database (another process) agrees with its own listing.
      await a.listSubjects();
      assert.deepEqual(await b.subject('v_one'), (await b.listSubjects()).find((s) => s.subject === 'v_one'));
      assert.equal((await b.subject('v_one'))?.lastMs, t0 + 9 * rollupBucketMs);
    } finally {
      await a.close();
      await b.close();
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
      assert.deepEqual(await byColumns.writeResourceColumns(batch(0, 2)), { written: 2, alreadyStored: 0, refused: [] });
      assert.deepEqual(await byColumns.writeResourceColumns(batch(2, 4)), { written: 2, alreadyStored: 0, refused: [] });
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
      assert.deepEqual(await byColumns.writeResourceColumns(guests), { written: 0, alreadyStored: 0, refused: [0, 1, 2] });
      await byColumns.grantConsent(['v_guest_old'], t0);
      const withAlias = { ...guests, subjects: [{ ...guests.subjects[0]!, aliases: ['v_guest_old'] }, guests.subjects[1]!] };
      assert.deepEqual(await byColumns.writeResourceColumns(withAlias), { written: 2, alreadyStored: 0, refused: [1] });
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
      assert.deepEqual(r1, { written: 1, alreadyStored: 0, refused: [0] });
      // Consent granted under an older key is found through the event's aliases.
      await store.grantConsent(['v_c_old'], t0);
      const r2 = await store.write([
        { ...agent, kind: 'command', subject: 'v_c', aliases: ['v_c_old'], time: t0 + 1, program: 'ls' },
        { ...agent, kind: 'resource', subject: 'v_c', aliases: ['v_c_old'], time: t0 + 1, cpuPercent: 3 },
      ]);
      assert.deepEqual(r2, { written: 2, alreadyStored: 0, refused: [] });
      assert.deepEqual((await store.consentedPseudonyms()).map((c) => c.pseudonym), ['v_c_old']);
      assert.equal(await store.hasConsent(['v_c', 'v_c_old']), true);
      assert.equal(await store.hasConsent(['v_c']), false);
      assert.equal(await store.hasConsent([]), false);
      const { deleted } = await store.revokeConsent(['v_c', 'v_c_old']);
      assert.equal(deleted, 2);
      assert.deepEqual((await store.sequence('v_c')).map((s) => [s.name, s.source]), [['hostlog', 'hypervisor']]);
      assert.deepEqual(await store.rollups('v_c'), []);
      assert.deepEqual(await store.consentedPseudonyms(), []);
      assert.equal(await store.hasConsent(['v_c', 'v_c_old']), false);
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

  test(`${name}: an event written again (a re-run ingest, a report sent again) is stored and rolled up once; any other is stored`, async () => {
    const [a, b] = await options.openTwo();
    try {
      const events: AnonymisedEvent[] = [
        { ...base, kind: 'resource', subject: 'v_once', time: t0, cpuPercent: 10, memoryBytes: 100 },
        { ...base, kind: 'resource', subject: 'v_once', time: t0 + 1, cpuPercent: 20 },
        { ...base, kind: 'launch', subject: 'v_once', time: t0, executable: 'nginx', user: 'u_1' },
        { ...base, kind: 'command', subject: 'v_once', time: t0, seq: 1, program: 'ls' },
        { ...base, kind: 'flow', subject: 'v_once', time: t0, direction: 'out', protocol: 'tcp', port: 443, remote: 'pypi.org', bytes: 5 },
        { ...base, kind: 'access', subject: 'v_once', time: t0, target: 's3://d', op: 'read', bytes: 9 },
      ];
      assert.deepEqual(await a.write(events), { written: 6, alreadyStored: 0, refused: [] });
      const once = { counts: await a.counts(), rollups: await a.rollups('v_once'), seq: await a.sequence('v_once'), flows: await a.flows('v_once'), data: await a.dataAccesses('v_once') };
      assert.equal(once.rollups[0]!.samples.cpuPercent, 2);
      // The whole batch again, from another store (another process), and its first half again as
      // column batch: nothing new. Two equal events in one batch are one observation.
      assert.deepEqual(await b.write(events), { written: 6, alreadyStored: 6, refused: [] });
      assert.deepEqual(await a.write([events[2]!, events[2]!, events[3]!]), { written: 3, alreadyStored: 3, refused: [] });
      const column = { source: base.source, subjects: [{ subject: 'v_once', subjectKind: base.subjectKind }], rows: 1, time: Float64Array.from([t0]) };
      const values = resourceFields.map((f) => (f === 'cpuPercent' ? 10 : f === 'memoryBytes' ? 100 : Number.NaN));
      assert.deepEqual(await b.writeResourceColumns({ ...column, values: Float64Array.from(values) }), { written: 1, alreadyStored: 1, refused: [] });
      for (const store of [a, b]) {
        assert.deepEqual(
          { counts: await store.counts(), rollups: await store.rollups('v_once'), seq: await store.sequence('v_once'), flows: await store.flows('v_once'), data: await store.dataAccesses('v_once') },
          once,
        );
      }
      // What differs in any stored field is another event: a value, a field more, the source, the time.
      const others: AnonymisedEvent[] = [
        { ...base, kind: 'resource', subject: 'v_once', time: t0, cpuPercent: 11, memoryBytes: 100 },
        { ...base, kind: 'resource', subject: 'v_once', time: t0, cpuPercent: 10, memoryBytes: 100, netInBps: 0 },
        { ...base, kind: 'resource', subject: 'v_once', source: 'app-log', time: t0, cpuPercent: 10, memoryBytes: 100 },
        { ...base, kind: 'launch', subject: 'v_once', time: t0 + 1, executable: 'nginx', user: 'u_1' },
        { ...base, kind: 'launch', subject: 'v_once', time: t0, executable: 'nginx' },
        { ...base, kind: 'command', subject: 'v_once', time: t0, seq: 2, program: 'ls' },
        { ...base, kind: 'flow', subject: 'v_once', time: t0, direction: 'out', protocol: 'tcp', port: 443, remote: 'pypi.org', bytes: 6 },
        { ...base, kind: 'access', subject: 'v_once', time: t0, target: 's3://d', op: 'write', bytes: 9 },
        { ...base, kind: 'access', subject: 'v_other', time: t0, target: 's3://d', op: 'read', bytes: 9 },
      ];
      assert.deepEqual(await a.write(others), { written: others.length, alreadyStored: 0, refused: [] });
      assert.deepEqual(await b.writeResourceColumns({ ...column, values: Float64Array.from(values.map((v, i) => (i === 0 ? 1 : v))) }), { written: 1, alreadyStored: 0, refused: [] });
      const counts = await a.counts();
      assert.deepEqual([counts.resource, counts.launch, counts.command, counts.flow, counts.access], [6, 3, 2, 2, 3]);
      assert.equal((await a.rollups('v_once'))[0]!.samples.cpuPercent, 6);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test(`${name}: writes grouped in one transaction each learn what they found already stored`, async () => {
    const store = await open();
    try {
      const one = (i: number): AnonymisedEvent[] => [
        { ...base, kind: 'resource', subject: 'v_group', time: t0 + i, cpuPercent: i },
        { ...base, kind: 'command', subject: 'v_group', time: t0 + i, program: 'ls' },
      ];
      await store.write(one(0));
      // Made in one turn: the adapters commit them together.
      const results = await Promise.all([store.write(one(0)), store.write([...one(1), ...one(0)]), store.write(one(1)), store.write(one(2))]);
      assert.deepEqual(results.map((r) => [r.written, r.alreadyStored]), [[2, 2], [4, 2], [2, 2], [2, 0]]);
      assert.equal((await store.counts()).resource, 3);
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

  test(`${name}: two stores on one database (two workers): concurrent writes to the same subjects and buckets add up, none lost, none counted twice`, async () => {
    const [a, b] = await options.openTwo();
    try {
      const subjects = ['v_s0', 'v_s1', 'v_s2', 'v_s3'];
      const writes = 12;
      // Every write touches every subject's same two buckets, in an order that differs between
      // the stores (lock order must not matter); whole numbers, so the sums are exact.
      const batch = (w: number, reverse: boolean): AnonymisedEvent[] =>
        (reverse ? [...subjects].reverse() : subjects).flatMap((subject) => [
          { ...base, kind: 'resource' as const, subject, category: 'shared', time: t0 + w, cpuPercent: w + subjects.indexOf(subject) },
          { ...base, kind: 'resource' as const, subject, time: t0 + rollupBucketMs + w, cpuPercent: 1 },
          { ...base, kind: 'command' as const, subject, time: t0 + w, program: `p${w}` },
        ]);
      const columns = (w: number) => ({
        source: base.source,
        subjects: subjects.map((subject) => ({ subject, subjectKind: base.subjectKind })),
        subjectOf: Int32Array.from(subjects.map((_, k) => k)),
        rows: subjects.length,
        time: Float64Array.from(subjects.map(() => t0 + 100 + w)),
        values: Float64Array.from(subjects.flatMap(() => resourceFields.map((f) => (f === 'cpuPercent' ? 2 : Number.NaN)))),
      });
      const results = await Promise.all(
        Array.from({ length: writes }, (_, w) => [
          a.write(batch(w, false)),
          b.write(batch(writes + w, true)),
          (w % 2 ? a : b).writeResourceColumns(columns(w)),
          (w % 2 ? b : a).countRejections([{ reason: 'invalid', source: 'unknown', count: 1 }]),
        ]).flat(),
      );
      assert.equal(results.reduce((n: number, r) => n + ((r as { written?: number } | undefined)?.written ?? 0), 0), 2 * writes * subjects.length * 3 + writes * subjects.length);
      for (const [k, subject] of subjects.entries()) {
        for (const store of [a, b]) {
          const r = await store.rollups(subject);
          assert.equal(r.length, 2, subject);
          assert.equal(r[0]!.samples.cpuPercent, 2 * writes + writes, `${subject}: samples in the first bucket`);
          // Sum of (w + k) for w in 0..2·writes-1, plus 2 per column row.
          const sum = (2 * writes * (2 * writes - 1)) / 2 + 2 * writes * k + 2 * writes;
          assert.equal(r[0]!.mean.cpuPercent, sum / (3 * writes), `${subject}: mean`);
          assert.equal(r[0]!.max.cpuPercent, 2 * writes - 1 + k);
          assert.deepEqual(r[1]!.samples, { cpuPercent: 2 * writes });
          assert.equal((await store.sequence(subject)).length, 2 * writes);
        }
      }
      const listed = await b.listSubjects();
      assert.deepEqual(listed.map((s) => [s.subject, s.category, s.firstMs, s.lastMs]), subjects.map((s) => [s, 'shared', t0, t0 + rollupBucketMs + 2 * writes - 1]));
      const counts = await a.counts();
      assert.equal(counts.subjects, subjects.length);
      assert.equal(counts.resource, subjects.length * (4 * writes + writes));
      assert.equal(counts.command, subjects.length * 2 * writes);
      assert.equal(counts.rollups, subjects.length * 2);
      assert.deepEqual(await a.rejections(), [{ reason: 'invalid', source: 'unknown', count: writes }]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test(`${name}: a revoke racing in-guest writes from another store leaves none of that subject's in-guest rows`, async () => {
    const [writer, revoker] = await options.openTwo();
    try {
      const agent = { subjectKind: 'vm' as const, source: 'agent' as const, subject: 'v_race' };
      const image = `sha256:${'3'.repeat(64)}`;
      await writer.grantConsent(['v_race'], t0);
      const one = (i: number): AnonymisedEvent[] => [
        { ...agent, kind: 'resource', time: t0 + i, image, cpuPercent: 1 },
        { ...agent, kind: 'command', time: t0 + i, image, program: 'ls' },
      ];
      assert.deepEqual(await writer.write(one(0)), { written: 2, alreadyStored: 0, refused: [] });
      await writer.write([{ ...base, kind: 'resource', subject: 'v_race', time: t0, cpuPercent: 5 }]); // host data: stays
      const racing: Promise<unknown>[] = [];
      for (let i = 1; i <= 20; i++) {
        racing.push(writer.write(one(i)));
        if (i === 10) racing.push(revoker.revokeConsent(['v_race']));
        await new Promise((r) => setImmediate(r));
      }
      await Promise.all(racing);
      for (const store of [writer, revoker]) {
        assert.deepEqual(await store.sequence('v_race'), []);
        assert.deepEqual(await store.guestImages('v_race'), []);
        assert.deepEqual((await store.guestActivity('v_race')).samples, []);
        assert.deepEqual((await store.rollups('v_race')).map((r) => r.samples), [{ cpuPercent: 1 }]);
      }
      assert.deepEqual(await writer.write(one(99)), { written: 0, alreadyStored: 0, refused: [0, 1] });
    } finally {
      await writer.close();
      await revoker.close();
    }
  });
}
