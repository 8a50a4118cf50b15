import assert from 'node:assert/strict';
import { test } from 'node:test';
import { identify } from '../identify/identify.js';
import { parseIdentifyConfig } from '../identify/rules.js';
import { parseEvent } from './telemetry-event.js';
import { usageVectorSchema } from './usage-vector.js';
import { webDbVector } from '../../test/support/vectors.js';

test('a category accepted at ingest is accepted by identification rules and usage vectors alike', () => {
  for (const category of ['web.frontend', 'web-dev', 'gpu_training']) {
    const event = parseEvent({ time: '2026-11-30T10:00:00Z', subject: 'client:shop', category, source: 'agent', kind: 'resource', cpuPercent: 5 });
    assert.ok(event.ok, `${category} at ingest: ${JSON.stringify(event)}`);
    const config = parseIdentifyConfig({ rules: [{ kind: 'account', account: 'a@shop.example', clientId: 'shop', category }] });
    assert.equal(identify(config, { account: 'a@shop.example' }).category, category);
    const v = webDbVector([]);
    assert.ok(usageVectorSchema.safeParse({ ...v, subject: { ...v.subject, category } }).success, `${category} in a vector`);
  }
  for (const category of ['Web', '.hidden', 'a/b', '']) {
    assert.equal(parseEvent({ time: '2026-11-30T10:00:00Z', subject: 'client:shop', category, source: 'agent', kind: 'resource', cpuPercent: 5 }).ok, false, category);
    assert.throws(() => parseIdentifyConfig({ rules: [{ kind: 'account', account: 'a@shop.example', clientId: 'shop', category }] }), category);
  }
});
