import { resourceFields } from '../contracts/telemetry-event.js';

/**
 * What makes two stored events the same observation, so that a re-run ingest, an ingest cut
 * halfway and run again, or an agent re-sending a report whose answer it never got stores each
 * event once. Both adapters keep a `digest` column on every raw table and a unique index on
 * (subject_id, time_ms, digest), and insert with ON CONFLICT DO NOTHING.
 *
 * The digest covers every stored field of the row but the subject and the time (the index holds
 * those): the source and the kind's own fields. So two events are one when the same subject, at
 * the same millisecond, from the same source, says exactly the same thing — two identical launches
 * of one program by one subject in one millisecond are one observation (no source tells them
 * apart), while a sample with one more field, or another value, is another event. What is not
 * stored is not compared: the category (the subject's, not the event's), an agent's image (its
 * own table, an upsert) and the aliases. Pseudonyms are keyed, so an event ingested again after
 * a key rotation has another subject and is stored again.
 *
 * MurmurHash3's 32-bit mixing on two lanes, 53 bits in all (a safe integer; SQLite INTEGER,
 * PostgreSQL bigint): a bulk import digests a million samples a second, where a cryptographic
 * hash per row would cost more than the insert. Collisions matter only between rows of one
 * subject at one millisecond (2^-53 each); a client can only write its own subject, so even a
 * crafted one drops nothing but its own data.
 */

let h1 = 0;
let h2 = 0;
const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

function start(): void {
  h1 = 0x9747b28c;
  h2 = 0x1b873593;
}

function word(w: number): void {
  let k = Math.imul(w, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h1 ^= k;
  h1 = (h1 << 13) | (h1 >>> 19);
  h1 = (Math.imul(h1, 5) + 0xe6546b64) | 0;
  h2 ^= Math.imul(k, 0x85ebca6b);
  h2 = (h2 << 17) | (h2 >>> 15);
  h2 = (Math.imul(h2, 9) + 0x38b34ae5) | 0;
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function finish(): number {
  return (fmix(h1) >>> 11) * 0x1_0000_0000 + fmix(h2 ^ h1);
}

/** A number (NaN: absent, as in column batches; -0 is 0, as the databases store it). */
function number(x: number): void {
  if (x !== x) {
    word(0);
    word(0x7ff80001);
    return;
  }
  f64[0] = x === 0 ? 0 : x;
  word(1);
  word(u32[0]!);
  word(u32[1]!);
}

function text(s: string | null | undefined): void {
  if (s === null || s === undefined) return word(0);
  word(2 + s.length);
  for (let i = 0; i < s.length; i++) word(s.charCodeAt(i));
}

const R = resourceFields.length;

/** A resource sample's digest: its source and its `resourceFields.length` values from `values[at]` (NaN: absent). */
export function sampleDigest(source: string, values: ArrayLike<number>, at = 0): number {
  start();
  text(source);
  for (let i = at, end = at + R; i < end; i++) number(values[i]!);
  return finish();
}

/** Any other row's digest: its source, then its own fields in the table's column order (null: absent). */
export function rowDigest(fields: readonly (string | number | null | undefined)[]): number {
  start();
  for (const f of fields) {
    if (typeof f === 'number') number(f);
    else text(f);
  }
  return finish();
}
