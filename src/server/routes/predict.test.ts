import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { HistorySource } from '../../predict/history.js';
import { createPredictor } from '../../predict/predict-vector.js';
import { repoPath } from '../../../test/support/repo.js';
import { createApp, listen } from '../app.js';
import { predictRoutes } from './predict.js';

const empty: HistorySource = {
  name: 'empty',
  subjects: async () => [],
  resourceSeries: async () => undefined,
  launches: async () => [],
  networkFlows: async () => [],
  dataAccesses: async () => [],
};

const server = createApp({ routes: [predictRoutes({ predictor: createPredictor({ history: empty, modelsDir: join(mkdtempSync(join(tmpdir(), 'prescient-routes-')), 'models') }) })] });
const { port } = await listen(server, 0);
const base = `http://127.0.0.1:${port}`;
after(() => server.close());

test('GET /v1/usage-vectors answers a valid default vector for an untrained category', async () => {
  const r = await fetch(`${base}/v1/usage-vectors?category=gpu&horizonHours=1`);
  assert.equal(r.status, 200);
  const v = (await r.json()) as { confidence: number; horizon: { hours: number }; subject: { category: string } };
  assert.equal(v.confidence, 0);
  assert.equal(v.horizon.hours, 1);
  assert.equal(v.subject.category, 'gpu');
  const bad = await fetch(`${base}/v1/usage-vectors?client=../etc`);
  assert.equal(bad.status, 400);
  assert.equal(((await bad.json()) as { details: { field: string } }).details.field, 'client');
});

test('POST /v1/usage-vectors/validate names the bad fields; the schema is served', async () => {
  const v = JSON.parse(readFileSync(repoPath('examples/vectors/web-db.json'), 'utf8'));
  assert.equal((await fetch(`${base}/v1/usage-vectors/validate`, { method: 'POST', body: JSON.stringify(v) })).status, 200);
  v.network.inbound[0].port = 65536;
  const r = await fetch(`${base}/v1/usage-vectors/validate`, { method: 'POST', body: JSON.stringify(v) });
  assert.equal(r.status, 422);
  assert.deepEqual(((await r.json()) as { issues: { path: string }[] }).issues.map((i) => i.path), ['network.inbound[0].port']);
  const s = await fetch(`${base}/v1/usage-vectors/schema`);
  assert.equal(((await s.json()) as { title: string }).title, 'UsageVector');
});

test('a vector with thousands of bad fields answers the first 100 and how many there are, not megabytes (the route is public)', async () => {
  const v = JSON.parse(readFileSync(repoPath('examples/vectors/web-db.json'), 'utf8'));
  v.software = Array.from({ length: 5000 }, (_, i) => ({ name: `pkg${i}`, probability: 'high' }));
  const r = await fetch(`${base}/v1/usage-vectors/validate`, { method: 'POST', body: JSON.stringify(v) });
  const text = await r.text();
  assert.equal(r.status, 422);
  const body = JSON.parse(text) as { valid: boolean; issues: { path: string }[]; issueCount: number };
  assert.equal(body.valid, false);
  assert.equal(body.issues.length, 100);
  assert.equal(body.issues[0]!.path, 'software[0].probability');
  assert.equal(body.issueCount, 5000);
  assert.ok(text.length < 64 * 1024, `${text.length} bytes`);
});
