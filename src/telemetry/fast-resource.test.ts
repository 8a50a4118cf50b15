import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseEvent } from '../contracts/telemetry-event.js';
import { fastResource } from './fast-resource.js';

const good = { kind: 'resource', time: 1_700_000_000_000, subject: 'vm:web-1', source: 'hypervisor', category: 'web', cpuPercent: 12.5, memoryBytes: 1024 };
const variants: unknown[] = [
  good,
  { ...good, category: undefined },
  { ...good, subject: 'user:a:b' },
  { ...good, subject: 'client:x' },
  { ...good, cpuCores: 0, netOutBps: 1e12 },
  // Everything below must not pass the fast path unless zod agrees.
  { ...good, subject: 'host:x' },
  { ...good, subject: 'vm:' },
  { ...good, subject: ':x' },
  { ...good, subject: { kind: 'vm', id: 'x' } },
  { ...good, time: '2024-01-01T00:00:00Z' },
  { ...good, time: -1 },
  { ...good, time: 1.5 },
  { ...good, time: Date.UTC(4000, 0, 1) },
  { ...good, time: '4000-01-01T00:00:00Z' },
  { ...good, time: '1969-12-31T23:59:59Z' },
  { ...good, source: 'guest' },
  { ...good, category: 'Web' },
  { ...good, category: '' },
  { ...good, cpuPercent: -1 },
  { ...good, cpuPercent: Number.NaN },
  { ...good, cpuPercent: '12' },
  { ...good, extra: 1 },
  { kind: 'resource', time: 1, subject: 'vm:x', source: 'agent' },
  { ...good, kind: 'command' },
  null,
  [good],
  'text',
];

test('the resource fast path accepts only what the schema accepts, and builds the same event', () => {
  let fastHits = 0;
  for (const v of variants) {
    const fast = fastResource(v);
    const slow = parseEvent(v);
    if (fast === undefined) continue;
    fastHits++;
    assert.ok(slow.ok, `fast path accepted what zod refuses: ${JSON.stringify(v)}`);
    const plain = (x: unknown) => JSON.parse(JSON.stringify(x)) as unknown; // an undefined key equals an absent one
    assert.deepEqual(plain(fast), plain(slow.event));
  }
  assert.equal(fastHits, 5);
});

test('times outside 1970 to 3999 are refused, naming the field and the reason', () => {
  for (const [time, reason] of [
    [Date.UTC(4000, 0, 1), 'after the year 3999'],
    ['4000-01-01T00:00:00Z', 'after the year 3999'],
    ['1969-12-31T23:59:59Z', 'before 1970'],
  ] as const) {
    const r = parseEvent({ ...good, time });
    assert.ok(!r.ok && r.reason.includes('time') && r.reason.includes(reason), JSON.stringify(r));
  }
  assert.ok(parseEvent({ ...good, time: Date.UTC(3999, 11, 31) }).ok);
});
