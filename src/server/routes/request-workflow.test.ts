import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { paths } from '../../core/config.js';
import { ExternalToolError } from '../../core/errors.js';
import { Grants } from '../../grants/grants.js';
import { parseIdentifyConfig } from '../../identify/rules.js';
import { findBase } from '../../image/bases/catalog.js';
import { assemblePipeline } from '../../pipeline/plan.js';
import { openRegistry, type Registry } from '../../registry/registry.js';
import { createApp, listen } from '../app.js';
import { requestRoutes } from './requests.js';
import { healthRoutes } from './health.js';
import type { UsageVector } from '../../contracts/usage-vector.js';
import { debianBase, testHome, testPaths } from '../../../test/support/images.js';
import { CategoryVectorPredictor } from '../../workflow/category-predictor.js';
import { PipelineImageBuilder, type BuildInput, type ImageBuilder } from '../../workflow/image-builder.js';
import type { Predictor } from '../../contracts/predictor.js';
import { ProactiveScheduler } from '../../workflow/proactive-scheduler.js';
import { RequestHistory } from '../../workflow/request-history.js';
import { RequestOutcomes } from '../../workflow/request-outcomes.js';
import type { RequestResult } from '../../workflow/request-result.js';
import { RequestWorkflow } from '../../workflow/request-workflow.js';
import { basicAuth } from '../../../test/support/basic-auth.js';

/**
 * The request workflow over real HTTP with the real pipeline (cached Debian base and layer
 * cache shared by the test run) and a real registry in a scratch folder.
 */
describe('POST /v1/requests', () => {
  let dir: string;
  let registry: Registry;
  let grants: Grants;
  let workflow: RequestWorkflow;
  let server: ReturnType<typeof createApp>;
  let url: string;
  let admin: string;
  let history: RequestHistory;
  let outcomes: RequestOutcomes;
  let predictor: Predictor;
  /** Clients whose next build fails (the failure path). */
  const failing = new Set<string>();
  /** Build attempts per client (retries included). */
  const attempts = new Map<string, number>();
  /** vCPU override per client: a new vector that changes the plan (forces a rebuild). */
  const vcpus = new Map<string, number>();
  /** Confidence override per client: a new vector that plans the same (no rebuild). */
  const confidence = new Map<string, number>();
  /** The workflow's reads of a version (`registry.show`), by reference. */
  const shows = new Map<string, number>();

  before(async () => {
    await debianBase();
    dir = await mkdtemp(join(testHome(), 'workflow-'));
    registry = await openRegistry({ root: join(dir, 'registry') });
    grants = await Grants.open({ secretsDir: paths(dir).secrets });
    const real = new PipelineImageBuilder({ paths: { ...testPaths(), runtime: join(dir, 'run') }, registry, pipeline: assemblePipeline() });
    const builder: ImageBuilder = {
      planDigest: (input) => real.planDigest(input),
      build: async (input: BuildInput) => {
        const id = input.vector.subject.clientId!;
        attempts.set(id, (attempts.get(id) ?? 0) + 1);
        if (id === 'slow') {
          // Holds the build until it is cancelled: what a long pipeline run looks like to `cancel`.
          await new Promise((_resolve, reject) => input.signal!.addEventListener('abort', () => reject(input.signal!.reason), { once: true }));
        }
        if (id === 'flaky' && attempts.get(id) === 1) throw new ExternalToolError('qemu-img', ['create'], 1, 'transient failure');
        if (failing.has(id)) throw new ExternalToolError('qemu-img', ['create'], 1, 'simulated failure');
        return real.build(input);
      },
    };
    const categories = CategoryVectorPredictor.fromObject({});
    predictor = {
      predict: async (input) => {
        const v: UsageVector = await categories.predict(input);
        const c = confidence.get(input.clientId ?? '');
        const n = vcpus.get(input.clientId ?? '');
        return { ...v, ...(c === undefined ? {} : { confidence: c }), ...(n === undefined ? {} : { resources: { ...v.resources, vcpus: n } }) };
      },
    };
    history = new RequestHistory(join(dir, 'request-history.jsonl'));
    outcomes = new RequestOutcomes(join(dir, 'request-outcomes.jsonl'));
    workflow = new RequestWorkflow({
      history,
      outcomes,
      identifyConfig: parseIdentifyConfig({ rules: [{ kind: 'account', account: 'ann@example.org', clientId: 'ann', category: 'desk' }], fallbackCategory: 'general' }),
      predictor,
      // The real registry, its reads of a version counted.
      registry: new Proxy(registry, {
        get: (target, key) => {
          const value = Reflect.get(target, key) as unknown;
          if (key === 'show') {
            return async (reference: string) => {
              shows.set(reference, (shows.get(reference) ?? 0) + 1);
              return target.show(reference);
            };
          }
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      }),
      grants,
      builder,
      resolveBase: (name) => findBase(testPaths().bases, name),
      maxParallelBuilds: 2,
      retry: { attempts: 3, baseDelayMs: 20 },
    });
    server = createApp({ routes: [requestRoutes({ workflow }), healthRoutes({ workflow })], auth: grants.edgeAuth() });
    const address = await listen(server, 0);
    url = `http://127.0.0.1:${address.port}/v1/requests`;
    admin = basicAuth(grants.credentials.admin);
  });
  after(async () => {
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  const post = async (body: unknown, auth = admin, accept = 'application/json'): Promise<Response> =>
    fetch(url, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json', accept }, body: JSON.stringify(body) });

  test('50 concurrent requests for 10 clients run exactly 10 builds, and every grant is for its own client', async () => {
    const clients = Array.from({ length: 10 }, (_, i) => `c${i}`);
    const asked = Array.from({ length: 50 }, (_, i) => clients[i % 10]!);
    const before = workflow.builds.started;
    const answers = await Promise.all(asked.map(async (clientId) => ({ clientId, res: await post({ clientId }) })));
    assert.equal(workflow.builds.started - before, 10);
    assert.ok(workflow.builds.limiter.peak <= 2, `peak ${workflow.builds.limiter.peak}`);
    const digestOf = new Map<string, string>();
    for (const { clientId, res } of answers) {
      assert.equal(res.status, 200);
      const r = (await res.json()) as RequestResult;
      assert.equal(r.clientId, clientId);
      assert.equal(r.category, 'general');
      assert.ok(['built', 'joined', 'prebuilt'].includes(r.source), r.source);
      assert.equal(r.image.repository, `clients/${clientId}`);
      assert.deepEqual(grants.verify(r.grant.token).access, [{ repository: `clients/${clientId}`, actions: ['pull'] }]);
      assert.equal(r.vmSpec?.vcpus, 2);
      if (digestOf.has(clientId)) assert.equal(r.image.digest, digestOf.get(clientId));
      digestOf.set(clientId, r.image.digest);
      assert.equal((await registry.resolve(`clients/${clientId}`, 'latest')).digest, r.image.digest);
    }
  });

  test('the next request is answered from the prebuilt version without running the pipeline', async () => {
    const before = workflow.builds.started;
    const res = await post({ clientId: 'c3' });
    const r = (await res.json()) as RequestResult;
    assert.equal(r.source, 'prebuilt');
    assert.equal(workflow.builds.started, before);
    assert.ok(r.timings.totalMs < 500, `${r.timings.totalMs} ms`);
    const metrics = await (await fetch(url.replace('/v1/requests', '/metrics'))).text();
    assert.match(metrics, /^prescient_builds_total 10$/m);
    assert.match(metrics, /^prescient_requests_total\{source="prebuilt"\} [1-9]\d*$/m);
    assert.equal((await fetch(url.replace('/v1/requests', '/healthz'))).status, 200);
  });

  test('a new vector that plans the same image is still a prebuilt hit; one that changes the plan is built', async () => {
    const first = (await (await post({ clientId: 'c2' })).json()) as RequestResult;
    confidence.set('c2', 0.93);
    const before = workflow.builds.started;
    const same = (await (await post({ clientId: 'c2' })).json()) as RequestResult;
    assert.notEqual(same.vectorDigest, first.vectorDigest);
    assert.equal(same.planDigest, first.planDigest);
    assert.equal(same.source, 'prebuilt');
    assert.equal(same.image.digest, first.image.digest);
    vcpus.set('c2', 3);
    const changed = (await (await post({ clientId: 'c2' })).json()) as RequestResult;
    assert.notEqual(changed.planDigest, first.planDigest);
    assert.equal(changed.source, 'built');
    assert.equal(changed.vmSpec?.vcpus, 3);
    assert.equal(workflow.builds.started, before + 1);
    // The version is read once: for the seed of the request that built it; the next requests'
    // check for a prebuilt hit and their seeds find it in the workflow's one memo.
    for (let i = 0; i < 3; i++) assert.equal(((await (await post({ clientId: 'c2' })).json()) as RequestResult).source, 'prebuilt');
    assert.equal(shows.get(changed.image.reference), 1);
  });

  test('two servers on one home build a (client, plan) once: the second finds it registered', async () => {
    // A second workflow with its own single-flight map stands for a second process (`prepare` next to `serve`).
    const second = new RequestWorkflow({
      identifyConfig: parseIdentifyConfig({}),
      predictor,
      registry,
      grants,
      builder: new PipelineImageBuilder({ paths: { ...testPaths(), runtime: join(dir, 'run') }, registry, pipeline: assemblePipeline() }),
      resolveBase: (name) => findBase(testPaths().bases, name),
    });
    const [a, b] = await Promise.all([workflow.handle({ clientId: 'twice' }), second.handle({ clientId: 'twice' })]);
    assert.equal(a.image.digest, b.image.digest);
    assert.equal((await registry.versions('clients/twice')).length, 1);
  });

  test('identification by account rule; a client credential may request only for itself', async () => {
    const ann = await grants.credentials.issue('ann');
    const auth = basicAuth(ann);
    const own = await post({ account: 'ann@example.org' }, auth);
    assert.equal(own.status, 200);
    assert.equal(((await own.json()) as RequestResult).category, 'desk');
    assert.equal((await post({ clientId: 'c1' }, auth)).status, 403);
    assert.equal((await fetch(url, { method: 'POST', body: '{}' })).status, 401);
    const bad = await post({ clientId: 'c1', colour: 'red' });
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /colour/);
  });

  test('a client id outside its grammar is refused at the edge, naming the field, before any progress streams', async () => {
    const res = await post({ clientId: 'Bad/../id' }, admin, 'application/x-ndjson');
    assert.equal(res.status, 400);
    const body = (await res.json()) as { error: string; details?: { field?: string } };
    assert.deepEqual([body.error, body.details?.field], ['VALIDATION', 'clientId']);
    const cancel = await fetch(url.replace('/v1/requests', '/v1/clients/Bad_Id/builds'), { method: 'DELETE', headers: { authorization: admin } });
    assert.equal(cancel.status, 400);
    assert.equal(((await cancel.json()) as { details?: { field?: string } }).details?.field, 'clientId');
    assert.equal(attempts.get('Bad/../id'), undefined);
  });

  test('progress streams as NDJSON, ending with the result', async () => {
    vcpus.set('c5', 3);
    const res = await post({ clientId: 'c5' }, admin, 'application/x-ndjson');
    assert.equal(res.headers.get('content-type'), 'application/x-ndjson');
    const lines = (await res.text()).trim().split('\n').map((l) => JSON.parse(l) as { type: string; state?: string; result?: RequestResult });
    const types = lines.map((l) => l.type);
    for (const t of ['identified', 'predicted', 'build', 'pipeline', 'registered', 'result']) assert.ok(types.includes(t), `${t} in ${types.join(',')}`);
    assert.equal(types.at(-1), 'result');
    assert.equal(lines.at(-1)!.result!.source, 'built');
  });

  test('a failed build hands out the last good version, marked as such; with none, a clear error', async () => {
    const good = (await registry.resolve('clients/c7', 'latest')).digest;
    vcpus.set('c7', 3);
    failing.add('c7');
    const r = (await (await post({ clientId: 'c7' })).json()) as RequestResult;
    assert.equal(r.source, 'last-good');
    assert.equal(r.image.digest, good);
    assert.equal(r.buildError?.code, 'EXTERNAL_TOOL');
    // A tool failing on the server is the operator's to read (its words name host files): the client gets the request id.
    assert.match(r.buildError!.message, /^internal error \(request [0-9a-f-]+\)$/);
    assert.equal(attempts.get('c7'), 1 + 3, 'the first good build, then three failed attempts');
    failing.add('newcomer');
    const none = await post({ clientId: 'newcomer' });
    assert.equal(none.status, 502);
    const noneText = await none.text();
    assert.doesNotMatch(noneText, /simulated failure/);
    assert.match(noneText, /internal error \(request [0-9a-f-]+\)/);
    assert.ok(!(await registry.repositories()).includes('clients/newcomer'));
    // both answers are in the outcome log, with the error the dashboard shows
    const logged = await outcomes.load();
    const c7 = logged.filter((o) => o.clientId === 'c7').at(-1)!;
    assert.equal(c7.source, 'last-good');
    assert.equal(c7.digest, good);
    assert.match(c7.error!.message, /simulated failure/);
    const newcomer = logged.filter((o) => o.clientId === 'newcomer').at(-1)!;
    assert.equal(newcomer.source, 'error');
    assert.equal(newcomer.error?.code, 'EXTERNAL_TOOL');
    // a transient failure is retried with backoff, and the retry is streamed
    const flaky = await post({ clientId: 'flaky' }, admin, 'application/x-ndjson');
    const events = (await flaky.text()).trim().split('\n').map((l) => JSON.parse(l) as { type: string; state?: string; result?: RequestResult });
    assert.ok(events.some((e) => e.type === 'build' && e.state === 'retrying'));
    assert.equal(events.at(-1)!.result!.source, 'built');
    assert.equal(attempts.get('flaky'), 2);
  });

  test('proactive: from a request history, the scheduler builds ahead for the client due soon, and its request is then a prebuilt hit', async () => {
    for (const day of ['01', '02', '03']) {
      await history.record({ at: `2026-11-${day}T09:10:00Z`, clientId: 'early' });
      await history.record({ at: `2026-11-${day}T15:00:00Z`, clientId: 'late' });
    }
    const scheduler = new ProactiveScheduler({ history, workflow, leadMs: 60 * 60 * 1000, now: () => new Date('2026-11-04T08:30:00Z') });
    const before = workflow.builds.started;
    const tick = await scheduler.tick();
    assert.deepEqual(tick.prepared.map((p) => [p.clientId, p.source]), [['early', 'built']]);
    assert.equal(workflow.builds.started, before + 1);
    assert.ok(!(await registry.repositories()).includes('clients/late'));
    const recorded = (await history.load()).length;
    const r = (await (await post({ clientId: 'early' })).json()) as RequestResult;
    assert.equal(r.source, 'prebuilt');
    assert.equal(r.image.digest, tick.prepared[0]!.digest);
    assert.equal(workflow.builds.started, before + 1);
    // the client's request is recorded, the proactive build is not; a second tick builds nothing
    assert.equal((await history.load()).length, recorded + 1);
    assert.deepEqual((await scheduler.tick()).prepared.map((p) => p.source), ['prebuilt']);
    assert.equal(workflow.builds.started, before + 1);
  });

  test('an admin cancels a build in flight; the request gets ABORTED (no good version yet) and nothing is registered', async () => {
    const pending = post({ clientId: 'slow' });
    for (let i = 0; i < 200 && workflow.builds.limiter.running === 0; i++) await new Promise((r) => setTimeout(r, 10));
    const cancelUrl = url.replace('/v1/requests', '/v1/clients/slow/builds');
    const c1 = await grants.credentials.issue('c1');
    assert.equal((await fetch(cancelUrl, { method: 'DELETE', headers: { authorization: basicAuth(c1) } })).status, 403);
    assert.equal([...workflow.builds.active.values()].find((b) => b.clientId === 'slow')?.state, 'running');
    const cancelled = await fetch(cancelUrl, { method: 'DELETE', headers: { authorization: admin } });
    assert.deepEqual(await cancelled.json(), { cancelled: 1 });
    const res = await pending;
    assert.equal(res.status, 499);
    assert.match(await res.text(), /ABORTED/);
    assert.equal(attempts.get('slow'), 1, 'a cancelled build is not retried');
    assert.ok(!(await registry.repositories()).includes('clients/slow'));
    assert.equal([...workflow.builds.active.values()].filter((b) => b.clientId === 'slow').length, 0, 'a cancelled build is no longer active');
  });
});
