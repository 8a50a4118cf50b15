import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConflictError, ValidationError } from '../core/errors.js';
import { debianFacts } from '../../test/support/debian-facts.js';
import { testVector } from '../../test/support/vectors.js';
import type { UsageVector } from '../contracts/usage-vector.js';
import { defineModule } from './define-module.js';
import { layerKey } from './layer-cache.js';
import { builtinModules } from './modules/index.js';
import { defaultInclusionThreshold } from './modules/inclusion-threshold.js';
import { chooseServices } from './modules/services/services-module.js';
import { expectationsFromVector } from '../vm/expectations.js';
import { assemblePipeline, planPipeline } from './plan.js';
import { z } from 'zod';
import { defaultPolicy, parsePolicy } from '../policy/policy.js';

const facts = debianFacts(['apt']);

function vector(overrides: Record<string, unknown> = {}): UsageVector {
  return testVector({
    subject: { clientId: 'c-1', category: 'web-db' },
    resources: { vcpus: 4, memoryMiB: 8192, diskGiB: 10, expectedP95CpuPercent: 60, expectedP95MemoryMiB: 6000, diskReadKBps: 0, diskWriteKBps: 0, networkInKBps: 100, networkOutKBps: 100 },
    software: [
      { name: 'nginx', probability: 0.9 },
      { name: 'postgresql', probability: 0.9 },
      { name: 'vim', probability: 0.2 },
    ],
    services: [
      { name: 'nginx', expectedLoad: { requestsPerSecond: 200 }, concurrency: 64 },
      { name: 'postgresql', expectedLoad: { connections: 40 }, concurrency: 40 },
    ],
    network: { inbound: [{ port: 80, protocol: 'tcp' }, { port: 443, protocol: 'tcp' }, { port: 53, protocol: 'udp' }], outbound: [], proxy: { url: 'http://proxy.internal:3128' } },
    ...overrides,
  });
}

const sources = new Map();
/** The admin allows DNS in and the proxy out; everything else in the vector is allowed by its services. */
const policy = parsePolicy({ inbound: { allow: [{ port: 53, protocol: 'udp' }] }, outbound: { allow: [{ host: 'proxy.internal', port: 3128 }] } });

test('the modules plan packages first, then services, network, data, and sizing last', () => {
  const plan = planPipeline({ pipeline: assemblePipeline(), vector: vector(), facts, sources, policy });
  assert.deepEqual(plan.modules.map((m) => m.id), ['resources', 'software', 'services', 'network', 'data', 'agent', 'sizing']);
  assert.equal(plan.spec.vcpus, 4);
  assert.equal(plan.spec.memoryMiB, 8192);
  assert.equal(plan.spec.diskGiB, 10);
  const [resources, software, services, network, , , sizing] = plan.modules;
  // the sizes are metadata: resources sets the VM spec and nothing else
  assert.ok(resources!.changes.every((c) => c.kind === 'set-vm-spec'));
  // every package in one apt run at the bottom, the services' and the firewall's included
  assert.deepEqual(software!.changes, [{ kind: 'install-packages', packages: ['nftables', 'nginx', 'postgresql', 'qemu-guest-agent', 'sudo'] }]);
  // vim is below the threshold; nobody installs again what software installs.
  for (const m of plan.modules.slice(2)) assert.ok(!m.changes.some((c) => c.kind === 'install-packages'), m.id);
  assert.deepEqual(services!.changes.filter((c) => c.kind === 'enable-service').map((c) => c.kind === 'enable-service' && c.unit).sort(), ['nginx.service', 'postgresql.service', 'prescient-postgresql-password.service'].sort());
  const nginx = sizing!.changes.find((c) => c.kind === 'write-file' && c.path === '/etc/nginx/nginx.conf');
  assert.ok(nginx && nginx.kind === 'write-file');
  assert.match(nginx.content, /^worker_processes 4;$/m);
  assert.match(nginx.content, /worker_connections 1024;/);
  const pg = sizing!.changes.find((c) => c.kind === 'write-file' && c.path.startsWith('/etc/postgresql/15/main/conf.d/'));
  assert.ok(pg && pg.kind === 'write-file');
  // pgtune: a quarter of the memory PostgreSQL gets (8192 - 256 reserved) for shared_buffers.
  assert.match(pg.content, new RegExp(`^shared_buffers = ${Math.floor(((8192 - 256) / 4) * 1024)}kB$`, 'm'));
  assert.match(pg.content, /^max_connections = 60$/m);
  assert.match(pg.content, /^effective_cache_size = /m);
  assert.match(pg.content, /^work_mem = /m);
  assert.ok(sizing!.changes.some((c) => c.kind === 'resize-disk' && c.sizeGiB === 10));
  assert.ok(sizing!.changes.some((c) => c.kind === 'create-swapfile' && c.sizeMiB === 4096));
  const nft = network!.changes.find((c) => c.kind === 'write-file' && c.path === '/etc/nftables.conf');
  assert.ok(nft && nft.kind === 'write-file');
  // 443 (no TLS certificate is prepared) and 53/udp (no DNS server is) have no listener: closed, and said so.
  assert.match(nft.content, /tcp dport \{ 22, 80 \} accept/);
  assert.doesNotMatch(nft.content, /udp dport \{/);
  assert.ok(network!.notes.some((n) => n.includes('port 443/tcp') && n.includes('left closed')), network!.notes.join('; '));
  assert.ok(network!.notes.some((n) => n.includes('port 53/udp')));
  assert.ok(network!.changes.some((c) => c.kind === 'write-file' && c.path === '/etc/apt/apt.conf.d/95prescient-proxy' && c.content.includes('proxy.internal:3128')));
});

/** Each module's layer key, chained from the base as personalize chains them. */
function layerKeys(plan: ReturnType<typeof planPipeline>): Map<string, string> {
  const keys = new Map<string, string>();
  let parent = 'base';
  for (const m of plan.modules) {
    if (!m.changes.some((c) => c.kind !== 'set-vm-spec')) continue;
    parent = layerKey({ parent, module: m.id, moduleVersion: m.version, changes: m.changes });
    keys.set(m.id, parent);
  }
  return keys;
}

test('the image carries the software set chosen for it: a chosen package is installed whatever its odds, an unchosen one by its odds alone', () => {
  const v = vector({
    software: [
      { name: 'nginx', probability: 0.9 },
      { name: 'sl', probability: 0.2, inImageSet: true },
      { name: 'vim', probability: 0.2 },
      { name: 'cowsay', probability: 0.3, inImageSet: false },
    ],
  });
  const plan = planPipeline({ pipeline: assemblePipeline(), vector: v, facts, sources, policy });
  const software = plan.modules.find((m) => m.id === 'software')!;
  const installs = software.changes.flatMap((c) => (c.kind === 'install-packages' ? c.packages : []));
  assert.ok(installs.includes('sl') && installs.includes('nginx'), installs.join(' '));
  assert.ok(!installs.includes('vim') && !installs.includes('cowsay'), installs.join(' '));
  assert.deepEqual(software.notes, ['below the 0.5 threshold: vim (0.2), cowsay (0.3)']);
  // The software module's other rules hold for the set too: an excluded package stays out.
  const excluded = planPipeline({ pipeline: assemblePipeline({ options: { software: { exclude: ['sl'] } } }), vector: v, facts, sources, policy });
  assert.ok(!excluded.modules.find((m) => m.id === 'software')!.changes.some((c) => c.kind === 'install-packages' && c.packages.includes('sl')));
});

test('a vector that differs only in vCPUs and memory changes only the sizing layer key', () => {
  const v = vector();
  const a = layerKeys(planPipeline({ pipeline: assemblePipeline(), vector: v, facts, sources, policy }));
  for (const [vcpus, memoryMiB] of [[1, 1024], [2, 4096], [8, 16384]] as const) {
    const resized = vector({ resources: { ...v.resources, vcpus, memoryMiB, expectedP95CpuPercent: 10, expectedP95MemoryMiB: 256 } });
    const plan = planPipeline({ pipeline: assemblePipeline(), vector: resized, facts, sources, policy });
    const b = layerKeys(plan);
    assert.deepEqual([...b.keys()], ['software', 'services', 'network', 'sizing']);
    for (const id of ['software', 'services', 'network']) assert.equal(b.get(id), a.get(id), `${id} at ${vcpus} vCPUs`);
    assert.notEqual(b.get('sizing'), a.get('sizing'));
    const nginx = plan.modules.at(-1)!.changes.find((c) => c.kind === 'write-file' && c.path === '/etc/nginx/nginx.conf');
    assert.ok(nginx && nginx.kind === 'write-file' && nginx.content.includes(`worker_processes ${vcpus};`));
  }
});

test('SSH stays open by policy, and can be closed by option', () => {
  const closed = planPipeline({ pipeline: assemblePipeline({ options: { network: { keepSsh: false } } }), vector: vector(), facts, sources, policy });
  const nft = closed.modules.find((m) => m.id === 'network')!.changes.find((c) => c.kind === 'write-file' && c.path === '/etc/nftables.conf');
  assert.ok(nft && nft.kind === 'write-file' && /tcp dport \{ 80 \}/.test(nft.content));
});

test('the pipeline is checked when it is assembled', () => {
  assert.throws(() => assemblePipeline({ options: { sofware: {} } }), (e: ValidationError) => e.field === 'options.sofware');
  assert.throws(() => assemblePipeline({ options: { software: { threshold: 2 } } }), (e: ValidationError) => e.field === 'options.software.threshold');
  assert.throws(() => assemblePipeline({ only: ['resources', 'nope'] }), (e: ValidationError) => e.field === 'modules');
  assert.throws(() => assemblePipeline({ modules: [...builtinModules, builtinModules[0]!] }), ConflictError);
  assert.throws(() => defineModule({ id: 'Bad Id', version: 1, description: '', optionsSchema: z.object({}), plan: () => ({ changes: [] }) }), ValidationError);
});

test('a module that plans an unsafe change is stopped at planning, naming the change', () => {
  const evil = defineModule({ id: 'evil', version: 1, description: '', optionsSchema: z.undefined(), plan: () => ({ changes: [{ kind: 'write-file', path: '/etc/../../x', content: '' }] }) });
  assert.throws(() => planPipeline({ pipeline: assemblePipeline({ modules: [evil] }), vector: vector(), facts, sources, policy }), (e: ValidationError) => e.field.startsWith('evil.changes[0].path'));
});

test('layer keys depend on parent, module version and changes, and on nothing else', () => {
  const changes = [{ kind: 'enable-service' as const, unit: 'nginx.service' }];
  const k = layerKey({ parent: 'p', module: 'services', moduleVersion: 1, changes });
  assert.equal(k, layerKey({ parent: 'p', module: 'services', moduleVersion: 1, changes: [{ unit: 'nginx.service', kind: 'enable-service' }] }));
  assert.notEqual(k, layerKey({ parent: 'q', module: 'services', moduleVersion: 1, changes }));
  assert.notEqual(k, layerKey({ parent: 'p', module: 'services', moduleVersion: 2, changes }));
  assert.notEqual(k, layerKey({ parent: 'p', module: 'services', moduleVersion: 1, changes: [] }));
});

test('a vector outside the admin policy is refused at planning, naming the field (hand-made vectors too)', () => {
  const refused = (v: ReturnType<typeof vector>, p = defaultPolicy()): string => {
    try {
      planPipeline({ pipeline: assemblePipeline(), vector: v, facts, sources, policy: p });
    } catch (e) {
      assert.ok(e instanceof ValidationError, String(e));
      return e.message;
    }
    return 'planned';
  };
  // The safe default: no extra port (53/udp has no predicted service), no outbound destination.
  assert.match(refused(vector()), /^network\.inbound\[2\]: udp\/53 is neither a port of a known predicted service nor allowed inbound \(admin policy/);
  assert.match(refused(vector({ network: { inbound: [{ port: 80, protocol: 'tcp' }], outbound: [], proxy: { url: 'http://proxy.internal:3128' } } })), /^network\.proxy\.url: /);
  assert.match(refused(vector({ network: { inbound: [{ port: 23, protocol: 'tcp' }], outbound: [], proxy: null } }), policy), /^network\.inbound\[0\]: tcp\/23 /);
  assert.match(refused(vector({ network: { inbound: [], outbound: [{ host: 'evil.example', port: 443 }], proxy: null } }), policy), /^network\.outbound\[0\]\.host: evil\.example:443 is not on the outbound allowlist/);
  // A host path as a dataset source is never planned, however probable.
  const shadow = { source: '/etc/shadow', destination: '/srv/shadow', sizeBytes: 1, probability: 0.01 };
  assert.match(refused(vector({ datasets: [shadow] }), policy), /^datasets\[0\]\.source: not in the dataset catalogue/);
  // Denied packages, directly or through the service that needs one.
  const deny = parsePolicy({ ...policy, packages: { deny: ['postgresql'] } });
  assert.match(refused(vector(), deny), /^software\[1\]\.name: postgresql is on the package deny list/);
  assert.match(refused(vector({ software: [] }), deny), /^services\[1\]\.name: its package postgresql is on the package deny list/);
  // A service's own port is allowed only as that service's known port.
  assert.match(refused(vector({ services: [{ name: 'nginx', expectedLoad: {}, concurrency: 4, ports: [{ port: 2323, protocol: 'tcp' }] }] }), policy), /^services\[0\]\.ports\[0\]: tcp\/2323 /);
  assert.equal(refused(vector(), policy), 'planned');
});

test('software, services and data share one inclusion threshold: its default, its range, each its own description', () => {
  const optionsOf = (pipeline: ReturnType<typeof assemblePipeline>): Record<string, unknown> => Object.fromEntries(pipeline.map((m) => [m.module.id, m.options]));
  const defaults = optionsOf(assemblePipeline());
  assert.deepEqual(defaults['software'], { threshold: defaultInclusionThreshold, exclude: [] });
  assert.deepEqual(defaults['services'], { threshold: defaultInclusionThreshold });
  assert.deepEqual(defaults['data'], { threshold: defaultInclusionThreshold, uid: 0, gid: 0, mode: 0o644 });
  // One option given: the others still get their field's default.
  assert.deepEqual(optionsOf(assemblePipeline({ options: { data: { uid: 1000 } } }))['data'], { threshold: defaultInclusionThreshold, uid: 1000, gid: 0, mode: 0o644 });
  for (const id of ['software', 'services', 'data']) {
    assert.throws(() => assemblePipeline({ options: { [id]: { threshold: -0.1 } } }), (e: ValidationError) => e.field === `options.${id}.threshold`);
    assert.equal((optionsOf(assemblePipeline({ options: { [id]: { threshold: 1 } } }))[id] as { threshold: number }).threshold, 1);
  }
  const descriptions = ['software', 'services', 'data'].map((id) => {
    const shape = (builtinModules.find((m) => m.id === id)!.optionsSchema as unknown as { def: { innerType: z.ZodObject } }).def.innerType.shape as Record<string, z.ZodType>;
    return shape['threshold']!.description;
  });
  assert.equal(new Set(descriptions).size, 3, `each module says what it includes: ${descriptions.join(' | ')}`);
});

test('an item at the threshold is in, one below it out, one with no probability in: services and datasets alike', () => {
  const v = vector({
    services: [
      { name: 'nginx', probability: 0.5, expectedLoad: { requestsPerSecond: 10 }, concurrency: 8 },
      { name: 'postgresql', probability: 0.49, expectedLoad: { connections: 5 }, concurrency: 5 },
      { name: 'redis', expectedLoad: { connections: 5 }, concurrency: 5 },
    ],
  });
  const { chosen, notes } = chooseServices(v, defaultInclusionThreshold, facts);
  assert.deepEqual(chosen.map((c) => c.service.name).sort(), ['nginx', 'redis']);
  assert.ok(notes.some((n) => /^postgresql: below the 0.5 threshold/.test(n)), notes.join('; '));
  assert.equal(expectationsFromVector(v).units.join(' '), 'nginx.service redis.service');
});
