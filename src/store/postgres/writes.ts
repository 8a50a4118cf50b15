import type { AnonymisedEvent } from '../../contracts/anonymised-event.js';
import type { AnonymisedResourceColumns } from '../../contracts/resource-columns.js';
import { columnSpans } from '../tables.js';
import { resourceFields } from '../../contracts/telemetry-event.js';
import { rowDigest, sampleDigest } from '../event-digest.js';
import type { WriteResult } from '../store.js';
import { consentedAmong } from './consent.js';
import { upsertGuestImages } from './guest.js';
import { emptySamples, insertSamples, storedKey, storedKeySql, type SampleColumns } from './rollups.js';
import { upsertSubjects, type SubjectSpan } from './subjects.js';
import type { Queryable } from './transaction.js';

const R = resourceFields.length;
/** Rows per statement: big enough that a round trip is amortised, small enough to bound a statement's memory. */
const chunkRows = 10_000;
const digestValues = new Float64Array(R);

/** The digest of the row just pushed onto a table's columns: its fields but subject and time, in column order (as sqlite/writes.ts). */
function digestOf(table: Record<string, readonly (string | number | null)[]>): number {
  const fields: (string | number | null)[] = [];
  for (const [column, values] of Object.entries(table)) if (column !== 'sid' && column !== 'time' && column !== 'digest') fields.push(values[values.length - 1]!);
  return rowDigest(fields);
}

/**
 * Events, inside the caller's transaction, whatever other processes do at the same time: consent
 * rows are locked shared (consent.ts), subject rows and rollup rows are upserted in key order
 * under their row locks. Two workers writing the same subjects and buckets serialise on those
 * rows and add up.
 */
export async function writeEvents(c: Queryable, all: readonly AnonymisedEvent[], parts?: readonly number[]): Promise<WriteResult & { alreadyStoredPer?: number[] }> {
  const agentNames = new Set<string>();
  for (const e of all) if (e.source === 'agent') [e.subject, ...(e.aliases ?? [])].forEach((p) => agentNames.add(p));
  const consented = await consentedAmong(c, [...agentNames]);
  const refused: number[] = [];
  const events: AnonymisedEvent[] = [];
  all.forEach((e, i) => {
    if (e.source === 'agent' && !consented.has(e.subject) && !(e.aliases ?? []).some((p) => consented.has(p))) refused.push(i);
    else events.push(e);
  });
  const spans = new Map<string, SubjectSpan>();
  for (const e of events) {
    const s = spans.get(e.subject);
    if (!s) spans.set(e.subject, { pseudonym: e.subject, kind: e.subjectKind, category: e.category ?? null, first: e.time, last: e.time });
    else {
      if (e.time < s.first) s.first = e.time;
      if (e.time > s.last) s.last = e.time;
      if (e.category !== undefined) s.category = e.category;
    }
  }
  const ids = await upsertSubjects(c, [...spans.values()]);
  let stored = 0;
  /** Given parts: the key of each accepted event, in order, and the keys of the rows that were new. */
  const keys: string[] | undefined = parts === undefined ? undefined : [];
  const newKeys = parts === undefined ? undefined : new Set<string>();
  let samples = emptySamples();
  const seq = { sid: [] as number[], source: [] as string[], time: [] as number[], seq: [] as (number | null)[], kind: [] as string[], name: [] as string[], user: [] as (string | null)[], session: [] as (string | null)[], task: [] as (string | null)[], outcome: [] as (string | null)[], digest: [] as number[] };
  const flow = { sid: [] as number[], source: [] as string[], time: [] as number[], direction: [] as string[], protocol: [] as string[], port: [] as number[], remote: [] as string[], bytes: [] as number[], outcome: [] as (string | null)[], digest: [] as number[] };
  const access = { sid: [] as number[], source: [] as string[], time: [] as number[], target: [] as string[], op: [] as (string | null)[], bytes: [] as number[], digest: [] as number[] };
  const images: { sid: number; image: string; first: number; last: number }[] = [];
  for (const e of events) {
    const sid = ids.get(e.subject)!;
    if (e.image !== undefined && e.source === 'agent') images.push({ sid, image: e.image, first: e.time, last: e.time });
    switch (e.kind) {
      case 'resource':
        samples.subjectId.push(sid);
        samples.source.push(e.source);
        samples.time.push(e.time);
        resourceFields.forEach((f, i) => {
          samples.values[i]!.push(e[f] ?? null);
          digestValues[i] = e[f] ?? Number.NaN;
        });
        samples.digest.push(sampleDigest(e.source, digestValues));
        keys?.push(storedKey(sid, e.time, samples.digest[samples.digest.length - 1]!));
        if (samples.time.length === chunkRows) (stored += await insertSamples(c, samples, newKeys)), (samples = emptySamples());
        break;
      case 'launch':
      case 'command':
        seq.sid.push(sid);
        seq.source.push(e.source);
        seq.time.push(e.time);
        seq.kind.push(e.kind);
        if (e.kind === 'launch') {
          seq.seq.push(null), seq.name.push(e.executable), seq.user.push(e.user ?? null), seq.task.push(null), seq.outcome.push(null);
        } else {
          seq.seq.push(e.seq ?? null), seq.name.push(e.program), seq.user.push(null), seq.task.push(e.task ?? null), seq.outcome.push(e.outcome ?? null);
        }
        seq.session.push(e.session ?? null);
        seq.digest.push(digestOf(seq));
        keys?.push(storedKey(sid, e.time, seq.digest[seq.digest.length - 1]!));
        break;
      case 'flow':
        flow.sid.push(sid), flow.source.push(e.source), flow.time.push(e.time), flow.direction.push(e.direction), flow.protocol.push(e.protocol);
        flow.port.push(e.port), flow.remote.push(e.remote), flow.bytes.push(e.bytes), flow.outcome.push(e.outcome ?? null);
        flow.digest.push(digestOf(flow));
        keys?.push(storedKey(sid, e.time, flow.digest[flow.digest.length - 1]!));
        break;
      case 'access':
        access.sid.push(sid), access.source.push(e.source), access.time.push(e.time), access.target.push(e.target), access.op.push(e.op ?? null), access.bytes.push(e.bytes);
        access.digest.push(digestOf(access));
        keys?.push(storedKey(sid, e.time, access.digest[access.digest.length - 1]!));
        break;
    }
  }
  stored += await insertSamples(c, samples, newKeys);
  const returning = newKeys === undefined ? '' : `RETURNING ${storedKeySql} AS key`;
  const count = (r: { rowCount: number | null; rows: { key: string }[] }): number => {
    if (newKeys !== undefined) for (const row of r.rows) newKeys.add(row.key);
    return r.rowCount ?? 0;
  };
  // WITH ORDINALITY … ORDER BY: the identity column follows the batch's order (sequence order among equal times).
  // ON CONFLICT DO NOTHING: an event already stored is skipped (../event-digest.ts); rowCount counts the new.
  if (seq.sid.length > 0) {
    const r = await c.query<{ key: string }>(
      `INSERT INTO sequence_events (subject_id, source, time_ms, seq, kind, name, "user", session, task, outcome, digest)
       SELECT s, src, t, q, k, n, u, ss, tk, o, d FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::bigint[])
         WITH ORDINALITY AS x (s, src, t, q, k, n, u, ss, tk, o, d, i) ORDER BY i
       ON CONFLICT DO NOTHING ${returning}`,
      [seq.sid, seq.source, seq.time, seq.seq, seq.kind, seq.name, seq.user, seq.session, seq.task, seq.outcome, seq.digest],
    );
    stored += count(r);
  }
  if (flow.sid.length > 0) {
    const r = await c.query<{ key: string }>(
      `INSERT INTO network_flows (subject_id, source, time_ms, direction, protocol, port, remote, bytes, outcome, digest)
       SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::integer[], $7::text[], $8::float8[], $9::text[], $10::bigint[])
       ON CONFLICT DO NOTHING ${returning}`,
      [flow.sid, flow.source, flow.time, flow.direction, flow.protocol, flow.port, flow.remote, flow.bytes, flow.outcome, flow.digest],
    );
    stored += count(r);
  }
  if (access.sid.length > 0) {
    const r = await c.query<{ key: string }>(
      `INSERT INTO data_accesses (subject_id, source, time_ms, target, op, bytes, digest)
       SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::float8[], $7::bigint[])
       ON CONFLICT DO NOTHING ${returning}`,
      [access.sid, access.source, access.time, access.target, access.op, access.bytes, access.digest],
    );
    stored += count(r);
  }
  await upsertGuestImages(c, images);
  const result = { written: events.length, alreadyStored: events.length - stored, refused };
  if (parts === undefined || keys === undefined || newKeys === undefined) return result;
  // Which part each accepted event came from; the first of equal events in the batch is the new one.
  const alreadyStoredPer = parts.map(() => 0);
  let k = 0;
  let r = 0;
  let part = 0;
  let end = parts[0] ?? 0;
  for (let i = 0; i < all.length; i++) {
    while (i >= end) end += parts[++part]!;
    if (refused[r] === i) {
      r++;
      continue;
    }
    if (!newKeys.delete(keys[k++]!)) alreadyStoredPer[part]!++;
  }
  return { ...result, alreadyStoredPer };
}

/** The same for column batches (bulk import): one consent decision per subject entry. */
export async function writeColumns(c: Queryable, b: AnonymisedResourceColumns): Promise<WriteResult> {
  if (b.rows === 0) return { written: 0, alreadyStored: 0, refused: [] };
  const { time, values, subjectOf } = b;
  const { first, last } = columnSpans(b);
  const consented = b.source === 'agent' ? await consentedAmong(c, b.subjects.flatMap((s) => [s.subject, ...(s.aliases ?? [])])) : undefined;
  const accepted = b.subjects.map((s, k) => first[k] !== Number.POSITIVE_INFINITY && (consented === undefined || consented.has(s.subject) || (s.aliases ?? []).some((p) => consented.has(p))));
  const spans: SubjectSpan[] = [];
  b.subjects.forEach((s, k) => {
    if (!accepted[k]) return;
    // One pseudonym may appear in several entries (one per image): their spans merge.
    const known = spans.find((x) => x.pseudonym === s.subject);
    if (known) (known.first = Math.min(known.first, first[k]!)), (known.last = Math.max(known.last, last[k]!)), (known.category = s.category ?? known.category);
    else spans.push({ pseudonym: s.subject, kind: s.subjectKind, category: s.category ?? null, first: first[k]!, last: last[k]! });
  });
  const ids = await upsertSubjects(c, spans);
  const sids = b.subjects.map((s, k) => (accepted[k] ? ids.get(s.subject)! : -1));
  await upsertGuestImages(
    c,
    b.source === 'agent' ? b.subjects.flatMap((s, k) => (sids[k]! >= 0 && s.image !== undefined ? [{ sid: sids[k]!, image: s.image, first: first[k]!, last: last[k]! }] : [])) : [],
  );
  const refused: number[] = [];
  let stored = 0;
  let samples: SampleColumns = emptySamples();
  for (let row = 0; row < b.rows; row++) {
    const sid = sids[subjectOf === undefined ? 0 : subjectOf[row]!]!;
    if (sid < 0) {
      refused.push(row);
      continue;
    }
    samples.subjectId.push(sid);
    samples.source.push(b.source);
    samples.time.push(time[row]!);
    for (let v = 0; v < R; v++) {
      const x = values[row * R + v]!;
      samples.values[v]!.push(x === x ? x : null); // NaN: the field was absent
    }
    samples.digest.push(sampleDigest(b.source, values, row * R));
    if (samples.time.length === chunkRows) (stored += await insertSamples(c, samples)), (samples = emptySamples());
  }
  stored += await insertSamples(c, samples);
  const written = b.rows - refused.length;
  return { written, alreadyStored: written - stored, refused };
}

export interface PendingWrite {
  events?: readonly AnonymisedEvent[];
  columns?: AnonymisedResourceColumns;
}

/**
 * Several writes in one transaction (group commit, as SQLite's writes.ts): the events of all of
 * them in one pass, then each column batch; results per write, in order.
 */
export async function writeGroup(c: Queryable, group: readonly PendingWrite[]): Promise<WriteResult[]> {
  const results: WriteResult[] = new Array(group.length);
  const withEvents = group.flatMap((p, i) => (p.events === undefined ? [] : [i]));
  if (withEvents.length === 1) results[withEvents[0]!] = await writeEvents(c, group[withEvents[0]!]!.events!);
  else if (withEvents.length > 1) {
    // One pass (subject rows upserted once, in key order, as one write's), told which write each
    // event came from, so that what each found already stored is its own.
    const parts = withEvents.map((i) => group[i]!.events!.length);
    const r = await writeEvents(c, withEvents.flatMap((i) => group[i]!.events!), parts);
    let offset = 0;
    withEvents.forEach((i, k) => {
      const n = parts[k]!;
      const refused = r.refused.filter((x) => x >= offset && x < offset + n).map((x) => x - offset);
      results[i] = { written: n - refused.length, alreadyStored: r.alreadyStoredPer![k]!, refused };
      offset += n;
    });
  }
  for (const [i, p] of group.entries()) if (p.columns !== undefined) results[i] = await writeColumns(c, p.columns);
  return results;
}

