import assert from 'node:assert/strict';
import test from 'node:test';
import { parseEvent } from './telemetry-event.js';

test('a refused event names each field as every other edge does (core/field-issues), at most five, never the value', () => {
  const flow = { kind: 'flow', time: 1, subject: 'client:a', source: 'agent', direction: 'in', protocol: 'tcp', port: 99999, remote: '*', bytes: -1 };
  const r = parseEvent(flow);
  assert.equal(r.ok, false);
  assert.match(r.ok ? '' : r.reason, /^port: .*; bytes: /);
  assert.doesNotMatch(r.ok ? '' : r.reason, /99999/);
  // A record that is not an object is the value itself: (root), as formatIssuePath names it.
  const list = parseEvent([]);
  assert.match(list.ok ? '' : list.reason, /^\(root\): /);
  const empty = parseEvent({ kind: 'flow' });
  assert.ok(!empty.ok && empty.reason.split('; ').length === 5, 'the first five problems');
});
