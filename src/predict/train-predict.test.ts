import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { AbortedError, NotFoundError } from '../core/errors.js';
import { checkUsageVector } from '../usage-vector/validate.js';
import type { DataAccess, HistorySource, LaunchEvent, NetworkFlow, ResourceSeries, Subject } from './history.js';
import { loadModelSet } from './model-store.js';
import { openPrescient } from '../app/open-prescient.js';
import type { TelemetryEvent } from '../contracts/telemetry-event.js';
import { resourceStepMs } from './history.js';
import { loadResourceModel } from './model-catalog.js';
import { storeHistory } from './store-history.js';
import { parsePolicy } from '../policy/policy.js';
import { packageIndexFrom } from './package-index.js';
import { defaultResources } from '../contracts/default-vector.js';
import { packageSizesFrom } from './archive-package-sizes.js';
import { createPredictor } from './predict-vector.js';
import { train } from './train.js';
import { debianFacts as factsOf } from '../../test/support/debian-facts.js';
import { assemblePipeline, planPipeline } from '../pipeline/plan.js';
import { imageCarries } from '../usage-vector/image-software.js';
import { applyGuestUse } from './guest-feedback.js';
import { calibrationOrigins, shrinkageGrid } from './forecast/forecast-selection.js';
import { seededRandom } from '../core/seeded-random.js';

/** A whole HistorySource in memory: the contract the store adapter will also meet. */
function memoryHistory(data: {
  subjects: Subject[];
  series?: Record<string, ResourceSeries>;
  launches?: Record<string, string[]>;
  flows?: Record<string, NetworkFlow[]>;
  accesses?: Record<string, DataAccess[]>;
}): HistorySource {
  return {
    name: 'memory',
    subjects: async () => data.subjects,
    resourceSeries: async (id) => data.series?.[id],
    launches: async (id) => (data.launches?.[id] ?? []).map((program): LaunchEvent => ({ program })),
    networkFlows: async (id) => data.flows?.[id] ?? [],
    dataAccesses: async (id) => data.accesses?.[id] ?? [],
  };
}

function series(id: string, level: number, days = 5): ResourceSeries {
  const n = 288 * days;
  const wave = (i: number, amp: number): number => Math.max(0, Math.min(100, level + amp * Math.sin((2 * Math.PI * i) / 288) + ((i * 7919) % 11) - 5));
  return {
    subjectId: id,
    startMs: 0,
    stepMs: 300_000,
    cpuPercent: Float64Array.from({ length: n }, (_, i) => wave(i, 20)),
    memoryPercent: Float64Array.from({ length: n }, (_, i) => wave(i, 5)),
    diskReadKBps: new Float64Array(n).fill(100),
    diskWriteKBps: new Float64Array(n).fill(50),
    networkInKBps: new Float64Array(n).fill(10),
    networkOutKBps: new Float64Array(n).fill(20),
    capacity: { cpuCores: 8, cpuMhz: 20000, memoryMiB: 16384 },
  };
}

const webHistory = memoryHistory({
  subjects: [
    { id: 'web-1', category: 'web' },
    { id: 'web-2', category: 'web' },
    { id: 'web-3', category: 'web' },
  ],
  series: { 'web-1': series('web-1', 40), 'web-2': series('web-2', 30), 'web-3': series('web-3', 50) },
  launches: {
    'web-1': Array.from({ length: 600 }, (_, i) => ['nginx', 'psql', 'vim', 'ls'][i % 4]!),
    'web-2': Array.from({ length: 600 }, (_, i) => ['nginx', 'ls'][i % 2]!),
  },
  flows: {
    'web-1': [
      { direction: 'inbound', port: 443, protocol: 'tcp', count: 900 },
      { direction: 'inbound', port: 5432, protocol: 'tcp', count: 12 },
      { direction: 'outbound', port: 443, protocol: 'tcp', host: 'deb.debian.org', count: 3 },
      { direction: 'outbound', port: 80, protocol: 'tcp', host: 'bad host;rm', count: 1 },
    ],
  },
  accesses: {
    'web-1': [
      { target: 'catalogue', sizeBytes: 1e6, count: 5 },
      { target: '/etc/shadow', sizeBytes: 10, count: 50 },
    ],
  },
});

const packages = packageIndexFrom({ nginx: 'nginx', psql: 'postgresql-client-15', vim: 'vim', ls: 'coreutils' });

test('train stores a versioned model set that predict turns into valid usage vectors', async () => {
  const modelsDir = join(mkdtempSync(join(tmpdir(), 'prescient-predict-')), 'models');
  const set = await train({ history: webHistory, modelsDir, scope: { kind: 'category', id: 'web' }, packageIndex: packages, network: false });
  assert.equal(set.version, 1);
  assert.deepEqual(
    set.selections.map((s) => s.target),
    ['cpuPercent@12', 'cpuPercent@288', 'memoryPercent@12', 'memoryPercent@288', 'software@next-item', 'software@next-set'],
  );
  for (const s of set.selections) assert.ok(s.candidates.some((c) => c.model === s.selected));
  // The pooled forecaster is fitted beside the rules and competes for every resource target.
  for (const s of set.selections.filter((x) => !x.target.startsWith('software'))) assert.ok(s.candidates.some((c) => c.model === 'pooled-quantile'), s.target);
  // Chosen by eval's rolling-origin validation: what drives the allocation is recorded with its calibration.
  for (const s of set.selections.filter((x) => !x.target.startsWith('software'))) {
    assert.ok(s.allocation && s.candidates.some((c) => c.model === s.allocation!.model), s.target);
    assert.ok(s.allocation.alpha > 0 && s.allocation.alpha < 0.1 && s.allocation.calibrationShare > 0, JSON.stringify(s.allocation));
    // λ is chosen with α, and the pooled margin it shrinks towards is kept for the vector.
    assert.ok(shrinkageGrid.includes(s.allocation.shrinkage!), JSON.stringify(s.allocation));
    // Kept whatever λ; absent only where no subject's slice holds an origin (every one has five days: at the 15 % slice, 18 h, none for the next day).
    const calibrated = calibrationOrigins(288 * 5, s.allocation.calibrationShare, Number(s.target.split('@')[1])).length > 0;
    assert.equal(Number.isFinite(s.allocation.pooledMargin), calibrated, JSON.stringify(s.allocation));
    // What the allocation rule read is kept with it (a few subjects cannot show the VM share: the nearest is said).
    assert.ok(s.allocation.evidence && s.allocation.evidence.worstFoldSubjectBound > 0 && typeof s.allocation.evidence.holds === 'boolean', JSON.stringify(s.allocation));
  }
  const hour = set.selections.find((s) => s.target === 'cpuPercent@12')!;
  assert.match(hour.metric, /rolling-origin validation/);
  assert.ok(hour.candidates.every((c) => Number.isFinite(c.score)), 'five days hold next-hour validation origins');
  // Five days cannot hold a day-ahead validation slice after a fitted part: said, and the fallback rule named.
  const day = set.selections.find((s) => s.target === 'cpuPercent@288')!;
  assert.match(day.metric, /^none: /);
  assert.equal(day.selected, 'moving-p95-288');
  const again = await train({ history: webHistory, modelsDir, scope: { kind: 'category', id: 'web' }, packageIndex: packages, network: false });
  assert.equal(again.version, 2);
  assert.equal((await loadModelSet(modelsDir, { kind: 'category', id: 'web' }))?.version, 2);
  assert.deepEqual((await readdir(join(modelsDir, 'category-web'))).sort(), ['current', 'v1.json', 'v2.json']);

  // The admin catalogued one dataset and allowlisted one outbound destination.
  const policy = parsePolicy({ datasets: [{ name: 'catalogue', kind: 'file', path: '/srv/exports/cat.sql.gz', maxBytes: 1e9, destination: '/srv/data/cat.sql.gz' }], outbound: { allow: [{ host: 'deb.debian.org', port: 443 }] } });
  const predictor = createPredictor({ history: webHistory, modelsDir, policy: async () => policy });
  const v = await predictor.predict({ clientId: 'web-1', horizonHours: 24 });
  assert.deepEqual(checkUsageVector(v), []);
  assert.equal(v.subject.category, 'web');
  assert.equal(v.model.version, 'category-web.v2');
  // Level 40 ± 20 on 8 cores: the day's p95 needs about 5 cores, never all 8 of an idle VM nor 1.
  assert.ok(v.resources.vcpus >= 4 && v.resources.vcpus <= 8, `vcpus ${v.resources.vcpus}`);
  assert.ok(v.resources.memoryMiB > 4096 && v.resources.memoryMiB <= 16384, `memory ${v.resources.memoryMiB}`);
  assert.equal(v.resources.diskReadKBps, 100);
  // postgresql was never launched, but the subject listened on 5432: the service brings its package.
  assert.deepEqual(v.software.map((s) => s.name).sort(), ['coreutils', 'nginx', 'postgresql', 'postgresql-client-15', 'vim']);
  assert.deepEqual(v.services.map((s) => s.name).sort(), ['nginx', 'postgresql']);
  assert.deepEqual(v.network.inbound.map((p) => p.port), [80, 443, 5432]);
  assert.deepEqual(v.network.outbound, [{ host: 'deb.debian.org', port: 443, protocol: 'tcp' }]);
  // Only the catalogued name became a dataset (by name, not path); /etc/shadow stayed an observation.
  assert.deepEqual(v.datasets.map((d) => [d.source, d.destination]), [['catalogue', '/srv/data/cat.sql.gz']]);
  assert.ok(v.confidence > 0 && v.confidence <= 1);
  assert.ok(v.model.components!.some((c) => c.target === 'cpuPercent@288'));
  assert.ok(v.model.components!.some((c) => c.target === 'cpuPercent@288/allocation' && c.id === day.allocation!.model), 'the vector names what drives the allocation');

  // A client with no history gets its category's vector.
  const cold = await predictor.predict({ clientId: 'new-client', category: 'web' });
  assert.deepEqual(checkUsageVector(cold), []);
  assert.equal(cold.model.version, 'category-web.v2');
  assert.ok(cold.software.some((s) => s.name === 'nginx'));
  assert.ok(cold.resources.vcpus >= 2);
  assert.ok(cold.confidence < v.confidence);

  // A category with no data: the documented default, not an error.
  const none = await predictor.predict({ category: 'gpu' });
  assert.deepEqual(checkUsageVector(none), []);
  assert.equal(none.confidence, 0);
  assert.equal(none.model.id, 'default');
  assert.equal(none.resources.vcpus, defaultResources.vcpus);
  assert.equal(none.resources.memoryMiB, defaultResources.memoryMiB);
  assert.deepEqual(none.software, []);
});

test('trained on a telemetry store of month-long clients, a new client with two days of history is allocated its forecast plus the pooled margin, not the bare forecast', async () => {
  const home = mkdtempSync(join(tmpdir(), 'prescient-new-client-'));
  const ingestion = await (await openPrescient({ home })).ingestion();
  try {
    const t0 = Date.UTC(2026, 10, 1);
    const events = (client: string, s: ResourceSeries, start: number): TelemetryEvent[] =>
      Array.from(s.cpuPercent, (cpu, i) => ({
        kind: 'resource' as const,
        time: start + i * resourceStepMs,
        subject: { kind: 'client' as const, id: client },
        category: 'web',
        source: 'hypervisor' as const,
        cpuCores: 8,
        cpuPercent: cpu,
        memoryBytes: Math.round((s.memoryPercent![i]! / 100) * 16 * 1024 ** 3),
        memoryTotalBytes: 16 * 1024 ** 3,
      }));
    // Each day's level moves by up to ±10 points: what a day-ahead forecast misses, so what a margin must cover.
    const rnd = seededRandom(5);
    const drifting = (id: string, level: number, days: number): ResourceSeries => {
      const s = series(id, level, days);
      const shift = Array.from({ length: days }, () => 20 * rnd() - 10);
      for (const v of [s.cpuPercent, s.memoryPercent!]) v.forEach((x, i) => (v[i] = Math.max(0, Math.min(100, x + shift[Math.floor(i / 288)]!))));
      return s;
    };
    for (const [i, level] of [40, 30, 50, 45].entries()) assert.equal((await ingestion.ingestor.ingest({ events: events(`old-${i}`, drifting(`old-${i}`, level, 30), t0) })).rejected, 0);
    const history = storeHistory(ingestion.store);
    const modelsDir = join(home, 'models');
    const set = await train({ history, modelsDir, scope: { kind: 'category', id: 'web' }, network: false });
    // A new client arrives: two days of its own, the last two of the month.
    assert.equal((await ingestion.ingestor.ingest({ events: events('new', drifting('new', 40, 2), t0 + 28 * 288 * resourceStepMs) })).rejected, 0);
    const v = await createPredictor({ history, modelsDir }).predict({ clientId: ingestion.anonymiser.pseudonym('client', 'new'), horizonHours: 24 });
    assert.deepEqual(checkUsageVector(v), []);
    const own = (await history.resourceSeries(ingestion.anonymiser.pseudonym('client', 'new')))!;
    assert.equal(own.memoryPercent!.length, 2 * 288);
    for (const [target, granted] of [['cpuPercent', (a: number) => Math.ceil((8 * a) / 100 - 1e-9)], ['memoryPercent', (a: number) => Math.max(512, Math.ceil((16384 * a) / 100 / 256) * 256)]] as const) {
      const alloc = set.selections.find((s) => s.target === `${target}@288`)!.allocation!;
      // Kept with the model set whatever λ (λ = 0 is what is deployed).
      assert.ok(alloc.pooledMargin !== undefined && alloc.pooledMargin > 1, JSON.stringify(alloc));
      assert.ok(v.model.components!.some((c) => c.target === `${target}@288/margin` && c.id === 'pooled'), JSON.stringify(v.model.components));
      const model = await loadResourceModel(set.models.find((m) => m.target === target && m.id === alloc.model)!);
      const bare = model.predict({ series: own[target]!, origins: [own[target]!.length], horizon: 288 })[0]!;
      const expected = granted(Math.min(100, Math.max(1, bare + alloc.pooledMargin)));
      assert.equal(target === 'cpuPercent' ? v.resources.vcpus : v.resources.memoryMiB, expected, `${target}: forecast ${bare} + pooled ${alloc.pooledMargin}`);
      if (target === 'memoryPercent') assert.ok(expected > granted(bare), `the pooled margin (${alloc.pooledMargin}) grants more memory than the bare forecast`);
    }
    // A month-long client keeps its own margin.
    const old = await createPredictor({ history, modelsDir }).predict({ clientId: ingestion.anonymiser.pseudonym('client', 'old-0'), horizonHours: 24 });
    assert.ok(old.model.components!.some((c) => c.target === 'cpuPercent@288/margin' && c.id === 'own'), JSON.stringify(old.model.components));
  } finally {
    await ingestion.close();
    await rm(home, { recursive: true, force: true });
  }
});

test('training an unknown scope is NotFound and an aborted run stores nothing', async () => {
  const modelsDir = join(mkdtempSync(join(tmpdir(), 'prescient-predict-')), 'models');
  await assert.rejects(train({ history: webHistory, modelsDir, scope: { kind: 'category', id: 'db' }, network: false }), NotFoundError);
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(train({ history: webHistory, modelsDir, scope: { kind: 'category', id: 'web' }, network: false, signal: controller.signal }), AbortedError);
  assert.equal(await loadModelSet(modelsDir, { kind: 'category', id: 'web' }), undefined);
});

test('with package sizes, the software set for the image drives the vector and the image: a big package launched rarely is left out, a tiny one launched as rarely is installed', async () => {
  const modelsDir = join(mkdtempSync(join(tmpdir(), 'prescient-predict-')), 'models');
  // Every 500th launch is LaTeX, whose package is 50 MB; every 400th is sl (20 kB); the rest are small packages' programs.
  const stream = (offset: number): string[] =>
    Array.from({ length: 4000 }, (_, i) => ((i + offset) % 500 === 0 ? 'pdflatex' : (i + offset) % 400 === 1 ? 'sl' : ['nginx', 'ls', 'vim', 'psql'][(i + offset) % 4]!));
  const history = memoryHistory({
    subjects: [1, 2, 3].map((n) => ({ id: `dev-${n}`, category: 'dev' })),
    launches: { 'dev-1': stream(0), 'dev-2': stream(7), 'dev-3': stream(13) },
  });
  const index = packageIndexFrom({ nginx: 'nginx', ls: 'coreutils', vim: 'vim', psql: 'postgresql-client-15', pdflatex: 'texlive-binaries', sl: 'sl' });
  const sizes = packageSizesFrom({ nginx: 1.5e6, coreutils: 0, vim: 4e6, 'postgresql-client-15': 6e6, 'texlive-binaries': 50e6, sl: 20e3 });
  const set = await train({ history, modelsDir, scope: { kind: 'category', id: 'dev' }, packageIndex: index, packageSizes: sizes, network: false });
  const sel = set.selections.find((s) => s.target === 'software@image-set')!;
  assert.equal(sel.selected, 'package-set');
  assert.deepEqual(sel.candidates.map((c) => c.model), ['package-set', 'most-frequent-programs']);
  assert.ok(set.profile.packageSets?.['day'] && set.profile.packageSets['week']);

  const v = await createPredictor({ history, modelsDir }).predict({ clientId: 'dev-1', horizonHours: 24 });
  assert.deepEqual(checkUsageVector(v), []);
  // The fewest bytes within half a point of every package seen leave out the 50 MB package that serves 0.2 % of launches.
  assert.deepEqual(v.software.map((s) => s.name).sort(), ['coreutils', 'nginx', 'postgresql-client-15', 'sl', 'vim']);
  assert.ok(v.model.components!.some((c) => c.target === 'software@image-set' && c.id === 'package-set'));
  assert.ok(!v.model.components!.some((c) => c.target === 'software@next-set'), 'the selector names what drives the software');
  assert.ok(v.software.every((s) => s.inImageSet === true), JSON.stringify(v.software));
  assert.ok(v.software.filter((s) => s.name !== 'sl').every((s) => s.probability > 0.9), JSON.stringify(v.software));
  assert.deepEqual(v.software.find((s) => s.name === 'vim')!.programs, ['vim']);
  // sl serves one launch in 400: below even odds of a launch in the next day's 100, but at 20 kB the set carries it.
  const sl = v.software.find((s) => s.name === 'sl')!;
  assert.ok(sl.probability > 0.1 && sl.probability < 0.5, `sl ${sl.probability}`);
  // The image carries what the set chose: sl is installed, LaTeX (never chosen) is not.
  const plan = planPipeline({ pipeline: assemblePipeline(), vector: v, facts: debianFacts, sources: new Map(), policy: parsePolicy({}) });
  const installs = plan.modules.find((m) => m.id === 'software')!.changes.flatMap((c) => (c.kind === 'install-packages' ? c.packages : []));
  for (const p of ['nginx', 'postgresql-client-15', 'sl', 'vim']) assert.ok(installs.includes(p), `${p} in ${installs.join(' ')}`);
  assert.ok(!installs.includes('texlive-binaries'));
  // A package the client never used in its machines leaves the set, and then its odds decide.
  const unused = applyGuestUse(v.software, { observedMs: 2 * 3600_000, installedPackages: [], launchedPrograms: ['nginx', 'vim', 'psql'], busyPorts: [] }).software.find((s) => s.name === 'sl')!;
  assert.equal(unused.inImageSet, undefined);
  assert.equal(imageCarries(unused, 0.5), false);
});

const debianFacts = factsOf(['coreutils']);
