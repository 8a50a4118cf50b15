import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Grants } from '../../grants/grants.js';
import { createPredictor } from '../../predict/predict-vector.js';
import { storeHistory } from '../../predict/store-history.js';
import { openPrescient } from '../../app/open-prescient.js';
import type { Ingestion } from '../../telemetry/open-ingestion.js';
import { createApp, listen, type App } from '../app.js';
import { categorySizeRule, predictRoutes } from './predict.js';
import { basicAuth } from '../../../test/support/basic-auth.js';

let dir: string;
let ingestion: Ingestion;
let app: App;
let base: string;
let grants: Grants;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'prescient-category-'));
  ingestion = await (await openPrescient({ home: dir })).ingestion();
  // Category "web" has three clients, "solo" one.
  const sample = (client: string, category: string) => ({ kind: 'resource' as const, time: Date.UTC(2026, 0, 1), subject: { kind: 'client' as const, id: client }, source: 'hypervisor' as const, category, cpuPercent: 10 });
  await ingestion.ingestor.ingest({ events: [sample('w1', 'web'), sample('w2', 'web'), sample('w3', 'web'), sample('only', 'solo')] });
  grants = await Grants.open({ secretsDir: join(dir, 'secrets') });
  const predictor = createPredictor({ history: storeHistory(ingestion.store), modelsDir: join(dir, 'models') });
  app = createApp({
    routes: [predictRoutes({ predictor, authorize: categorySizeRule({ membersOf: async (category) => (await ingestion.store.listSubjects({ category, kind: 'client' })).length }) })],
    auth: grants.edgeAuth(),
  });
  base = `http://127.0.0.1:${(await listen(app, 0)).port}`;
});
after(async () => {
  await app.close();
  await ingestion.close();
  await rm(dir, { recursive: true, force: true });
});

test('a client may not read the vector of a category with fewer than 3 members; the admin may (finding 10)', async () => {
  const w1 = basicAuth(await grants.credentials.issue('w1'));
  const solo = await fetch(`${base}/v1/usage-vectors?category=solo`, { headers: { authorization: w1 } });
  assert.equal(solo.status, 403);
  const body = (await solo.json()) as { details: { rule: string } };
  assert.equal(body.details.rule, 'category-min-members');
  assert.equal((await fetch(`${base}/v1/usage-vectors?category=web`, { headers: { authorization: w1 } })).status, 200);
  assert.equal((await fetch(`${base}/v1/usage-vectors?category=solo`, { headers: { authorization: basicAuth(grants.credentials.admin) } })).status, 200);
  assert.equal((await fetch(`${base}/v1/usage-vectors?category=solo`)).status, 401);
});

test("naming its own id beside the category does not open a small category's vector to a client: a client without a model of its own is answered from the category's", async () => {
  const w2 = basicAuth(await grants.credentials.issue('w2'));
  const r = await fetch(`${base}/v1/usage-vectors?client=w2&category=solo`, { headers: { authorization: w2 } });
  assert.equal(r.status, 403, await r.clone().text());
  assert.equal(((await r.json()) as { details: { rule: string } }).details.rule, 'category-min-members');
  assert.equal((await fetch(`${base}/v1/usage-vectors?client=w2&category=web`, { headers: { authorization: w2 } })).status, 200);
  assert.equal((await fetch(`${base}/v1/usage-vectors?client=w2`, { headers: { authorization: w2 } })).status, 200);
});
