import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ValidationError } from '../core/errors.js';
import { resolveSources } from '../pipeline/sources.js';
import { webDbVector } from '../../test/support/vectors.js';
import { outboundAllowed } from './outbound-allowed.js';
import { defaultPolicy, loadPolicy, parsePolicy, policySource, savePolicy } from './policy.js';
import { checkBaseAllowed, confineVector, policyViolations } from './vector-policy.js';

const fieldOf = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof ValidationError, String(e));
    return e.field;
  }
  return '(accepted)';
};

test('a new home has the safe default: empty catalogue, no extra port, no outbound entry, the built-in Debian base', async () => {
  const home = await mkdtemp(join(tmpdir(), 'prescient-policy-'));
  try {
    const p = await loadPolicy(join(home, 'policy.json'));
    assert.deepEqual(p, { datasets: [], packages: { deny: [] }, inbound: { allow: [] }, outbound: { allow: [] }, bases: { allow: ['debian-12'] } });
    assert.deepEqual(p, defaultPolicy());
  } finally {
    await rm(home, { recursive: true, force: true });
  }
});

test('policy files are validated with errors that name the field', async () => {
  assert.equal(fieldOf(() => parsePolicy({ datasets: [{ name: 'Bad/Name', kind: 'file', path: '/x', maxBytes: 1 }] })), 'datasets[0].name');
  assert.equal(fieldOf(() => parsePolicy({ datasets: [{ name: 'a', kind: 'file', path: 'relative', maxBytes: 1 }] })), 'datasets[0].path');
  assert.equal(fieldOf(() => parsePolicy({ datasets: [{ name: 'a', kind: 'file', path: '/x', maxBytes: 0 }] })), 'datasets[0].maxBytes');
  assert.equal(fieldOf(() => parsePolicy({ datasets: [{ name: 'a', kind: 'file', path: '/x', maxBytes: 1, destination: '../etc' }] })), 'datasets[0].destination');
  assert.equal(fieldOf(() => parsePolicy({ packages: { deny: ['rm -rf'] } })), 'packages.deny[0]');
  assert.equal(fieldOf(() => parsePolicy({ inbound: { allow: [{ port: 70000, protocol: 'tcp' }] } })), 'inbound.allow[0].port');
  assert.equal(fieldOf(() => parsePolicy({ outbound: { allow: [{ host: 'bad host;rm' }] } })), 'outbound.allow[0].host');
  assert.equal(fieldOf(() => parsePolicy({ bases: { allow: ['../hostile'] } })), 'bases.allow[0]');
  assert.equal(fieldOf(() => parsePolicy({ basse: {} })), 'basse');
  assert.equal(fieldOf(() => parsePolicy(JSON.parse('{"__proto__": {"bases": {"allow": ["hostile"]}}}'))), '__proto__');
  assert.equal(({} as Record<string, unknown>)['bases'], undefined);

  const home = await mkdtemp(join(tmpdir(), 'prescient-policy-'));
  try {
    const file = join(home, 'policy.json');
    await writeFile(file, '{"inbound":{"allow":[{"port":"23","protocol":"tcp"}]}}');
    await assert.rejects(loadPolicy(file), (e: ValidationError) => e.field === 'inbound.allow[0].port');
    // An edit is picked up by a long-lived reader without a restart.
    const source = policySource(file);
    await savePolicy(file, parsePolicy({ bases: { allow: ['debian-12', 'alpine-3'] } }));
    assert.deepEqual((await source()).bases.allow, ['debian-12', 'alpine-3']);
    await savePolicy(file, parsePolicy({ inbound: { allow: [{ port: 8080, protocol: 'tcp' }] } }));
    assert.deepEqual((await source()).inbound.allow, [{ port: 8080, protocol: 'tcp' }]);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
});

test('outbound destinations: exact hosts, wildcards, CIDRs and ports; nothing wider than the entry', () => {
  const p = parsePolicy({ outbound: { allow: [{ host: 'deb.debian.org', port: 443 }, { host: '*.internal.example' }, { host: '10.0.0.0/8' }, { host: '2001:db8::/32' }] } });
  assert.ok(outboundAllowed(p, { host: 'DEB.debian.org', port: 443 }));
  assert.ok(!outboundAllowed(p, { host: 'deb.debian.org', port: 80 }));
  assert.ok(!outboundAllowed(p, { host: 'deb.debian.org' }), 'any port is wider than one port');
  assert.ok(outboundAllowed(p, { host: 'db.eu.internal.example', port: 5432 }));
  assert.ok(outboundAllowed(p, { host: '*.eu.internal.example' }));
  assert.ok(!outboundAllowed(p, { host: 'internal.example' }));
  assert.ok(!outboundAllowed(p, { host: 'evilinternal.example' }));
  assert.ok(!outboundAllowed(p, { host: '*.example' }));
  assert.ok(outboundAllowed(p, { host: '10.1.2.3' }));
  assert.ok(outboundAllowed(p, { host: '10.1.0.0/16' }));
  assert.ok(!outboundAllowed(p, { host: '10.0.0.0/7' }));
  assert.ok(!outboundAllowed(p, { host: '11.0.0.1' }));
  assert.ok(outboundAllowed(p, { host: '2001:db8::1' }));
  assert.ok(!outboundAllowed(p, { host: '2001:db9::1' }));
  assert.ok(!outboundAllowed(defaultPolicy(), { host: 'deb.debian.org', port: 443 }));
});

test('predicted vectors are confined to the policy; the same vector someone wrote is refused field by field', () => {
  const v = webDbVector([], {
    software: [{ name: 'nginx', probability: 0.9 }, { name: 'telnetd', probability: 0.9 }, { name: 'redis-server', probability: 0.9 }],
    services: [
      { name: 'nginx', expectedLoad: {}, concurrency: 8, ports: [{ port: 80, protocol: 'tcp' }, { port: 23, protocol: 'tcp' }] },
      { name: 'redis-server', expectedLoad: {}, concurrency: 8, ports: [{ port: 6379, protocol: 'tcp' }] },
    ],
    datasets: [
      { source: '/etc/shadow', destination: '/srv/shadow', sizeBytes: 10, probability: 0.9 },
      { source: 'catalogue', destination: '/srv/cat', sizeBytes: 5000, probability: 0.9 },
    ],
    network: { inbound: [{ port: 23, protocol: 'tcp' }, { port: 80, protocol: 'tcp' }, { port: 6379, protocol: 'tcp' }], outbound: [{ host: 'evil.example', port: 443 }, { host: 'deb.debian.org', port: 443 }], proxy: { url: 'http://evil.example:3128' } },
  });
  const p = parsePolicy({
    datasets: [{ name: 'catalogue', kind: 'file', path: '/srv/exports/cat.sql', maxBytes: 1000 }],
    packages: { deny: ['telnetd', 'redis-server'] },
    outbound: { allow: [{ host: 'deb.debian.org', port: 443 }] },
  });
  assert.deepEqual(
    policyViolations(v, p).map((x) => x.field),
    ['datasets[0].source', 'datasets[1].sizeBytes', 'software[1].name', 'software[2].name', 'services[1].name', 'services[0].ports[1]', 'services[1].ports[0]', 'network.inbound[0]', 'network.inbound[2]', 'network.outbound[0].host', 'network.proxy.url'],
  );
  const { vector: confined, removed } = confineVector(v, p);
  assert.equal(removed.length, 11);
  assert.deepEqual(policyViolations(confined, p), [], 'a confined vector is within the policy');
  assert.deepEqual(confined.software.map((s) => s.name), ['nginx']);
  assert.deepEqual(confined.services.map((s) => [s.name, s.ports]), [['nginx', [{ port: 80, protocol: 'tcp' }]]]);
  assert.deepEqual(confined.network.inbound, [{ port: 80, protocol: 'tcp' }]);
  assert.deepEqual(confined.network.outbound, [{ host: 'deb.debian.org', port: 443 }]);
  assert.equal(confined.network.proxy, null);
  assert.deepEqual(confined.datasets.map((d) => [d.source, d.sizeBytes]), [['catalogue', 1000]]);
  // Without the deny list, redis's own port is a predicted service's port; 23 never is.
  const open = confineVector(v, parsePolicy({ datasets: p.datasets })).vector;
  assert.deepEqual(open.network.inbound.map((x) => x.port), [80, 6379]);
});

test('clients may ask only for allowlisted bases; the refusal names the policy', () => {
  assert.doesNotThrow(() => checkBaseAllowed(defaultPolicy(), 'debian-12'));
  assert.throws(() => checkBaseAllowed(defaultPolicy(), 'hostile'), (e: ValidationError) => e.field === 'base' && /"hostile" is not an allowed base \(allowed: debian-12\) \(admin policy: policy\.json\)/.test(e.message));
});

test('dataset sources resolve only through the catalogue: files, files below folders, never out of them, within the cap', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'prescient-sources-'));
  try {
    await mkdir(join(dir, 'folder', 'sub'), { recursive: true });
    await writeFile(join(dir, 'one.txt'), 'one\n');
    await writeFile(join(dir, 'folder', 'sub', 'a.txt'), 'aaaa\n');
    await writeFile(join(dir, 'secret'), 'secret\n');
    await symlink(join(dir, 'secret'), join(dir, 'folder', 'escape'));
    const p = parsePolicy({
      datasets: [
        { name: 'one', kind: 'file', path: join(dir, 'one.txt'), maxBytes: 100 },
        { name: 'folder', kind: 'folder', path: join(dir, 'folder'), maxBytes: 8 },
      ],
    });
    const ds = (...sources: string[]): ReturnType<typeof webDbVector> => webDbVector(sources.map((source, i) => ({ source, destination: `/srv/d${i}`, sizeBytes: 1 })));
    const resolved = await resolveSources(ds('one', 'folder/sub/a.txt'), { threshold: 0.5, policy: p });
    assert.deepEqual([...resolved.values()].map((r) => [r.path, r.sizeBytes]), [[join(dir, 'one.txt'), 4], [join(dir, 'folder', 'sub', 'a.txt'), 5]]);
    const refused = async (v: ReturnType<typeof webDbVector>, pattern: RegExp): Promise<void> =>
      assert.rejects(resolveSources(v, { threshold: 0.5, policy: p }), (e: ValidationError) => pattern.test(e.message));
    await refused(ds(join(dir, 'one.txt')), /^datasets\[0\]\.source: not in the dataset catalogue/);
    await refused(ds(`file://${join(dir, 'one.txt')}`), /^datasets\[0\]\.source: not in the dataset catalogue/);
    await refused(ds('one', 'folder/../one.txt'), /^datasets\[1\]\.source: not in the dataset catalogue/);
    await refused(ds('folder/escape'), /^datasets\[0\]\.source: escape leads outside dataset folder/);
    await refused(ds('folder/missing'), /^datasets\[0\]\.source: no file missing in dataset folder/);
    await refused(ds('folder/sub/a.txt', 'folder/sub/a.txt'), /^datasets\[1\]\.source: dataset folder is capped at 8 bytes/);
    // With no policy given, the safe default: nothing resolves.
    await assert.rejects(resolveSources(ds('one'), { threshold: 0.5 }), /not in the dataset catalogue/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('services are known by their aliases too, and SSH is always allowed (the network module keeps it open)', () => {
  const v = webDbVector([], { services: [{ name: 'redis', expectedLoad: {}, concurrency: 4 }], network: { inbound: [{ port: 22, protocol: 'tcp' }, { port: 6379, protocol: 'tcp' }], outbound: [], proxy: null } });
  assert.deepEqual(policyViolations(v, defaultPolicy()), []);
  assert.deepEqual(policyViolations(v, parsePolicy({ packages: { deny: ['redis-server'] } })).map((x) => x.field), ['services[0].name', 'network.inbound[1]']);
});
