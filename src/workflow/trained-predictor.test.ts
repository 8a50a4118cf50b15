import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { paths } from '../core/config.js';
import type { Predictor as ModelPredictor } from '../contracts/predictor.js';
import { createPredictor } from '../predict/predict-vector.js';
import { storeHistory } from '../predict/store-history.js';
import { importFiles } from '../telemetry/import-files.js';
import { openPrescient } from '../app/open-prescient.js';
import { CategoryVectorPredictor } from './category-predictor.js';
import { trainedPredictor } from './trained-predictor.js';

const home = await mkdtemp(join(tmpdir(), 'prescient-trained-predictor-'));
const ingestion = await (await openPrescient({ home })).ingestion();
after(async () => {
  await ingestion.close();
  await rm(home, { recursive: true, force: true });
});

const ingest = async (events: object[]): Promise<void> => {
  const file = join(home, `batch-${Date.now()}-${Math.random()}.ndjson`);
  await writeFile(file, events.map((e) => JSON.stringify(e)).join('\n'));
  await importFiles({ path: file, format: 'ndjson', ingestor: ingestion.ingestor });
};

test('a client is predicted under its pseudonym; the vector is reused until its data or the models change', async () => {
  const modelsDir = paths(home).models;
  const real = createPredictor({ history: storeHistory(ingestion.store), modelsDir });
  const asked: string[] = [];
  const models: ModelPredictor = {
    predict: async (r) => {
      asked.push(r.clientId!);
      return real.predict(r);
    },
  };
  let clock = 0;
  const predictor = trainedPredictor({
    models,
    modelsDir,
    store: ingestion.store,
    pseudonym: (id) => ingestion.anonymiser.pseudonym('client', id),
    fallback: CategoryVectorPredictor.fromObject({}),
    now: () => clock,
  });
  const t0 = Date.UTC(2026, 10, 1);
  await ingest([{ kind: 'resource', time: t0, subject: 'client:acme', category: 'web', source: 'hypervisor', cpuPercent: 20 }]);

  // Nothing trained: the fallback (category vectors, else the default) answers, naming the client by its pseudonym.
  const first = await predictor.predict({ clientId: 'acme', category: 'web' });
  const pseudonym = ingestion.anonymiser.pseudonym('client', 'acme');
  assert.deepEqual(asked, [pseudonym]);
  assert.equal(first.subject.clientId, pseudonym);
  assert.equal(first.model.id, 'default');

  // Same data, same models: reused, not predicted again.
  assert.equal(await predictor.predict({ clientId: 'acme', category: 'web' }), first);
  assert.equal(asked.length, 1);

  // New data: predicted again.
  await ingest([{ kind: 'resource', time: t0 + 300_000, subject: 'client:acme', category: 'web', source: 'hypervisor', cpuPercent: 30 }]);
  await predictor.predict({ clientId: 'acme', category: 'web' });
  assert.equal(asked.length, 2);

  // A new model version of the category (here a pointer to a version that is not there): predicted again.
  await mkdir(join(modelsDir, 'category-web'), { recursive: true });
  await writeFile(join(modelsDir, 'category-web', 'current'), '7\n');
  await assert.rejects(predictor.predict({ clientId: 'acme', category: 'web' }), /version 7/);
  assert.equal(asked.length, 3);
  await rm(join(modelsDir, 'category-web'), { recursive: true });

  // Back to what it was: reused — until the vector is older than 15 minutes.
  await predictor.predict({ clientId: 'acme', category: 'web' });
  assert.equal(asked.length, 3);
  clock += 16 * 60 * 1000;
  await predictor.predict({ clientId: 'acme', category: 'web' });
  assert.equal(asked.length, 4);
});
