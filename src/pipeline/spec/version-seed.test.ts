import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { oneServiceVector } from '../../../test/support/service-vectors.js';
import { debianFacts } from '../../../test/support/debian-facts.js';
import { openRegistry } from '../../registry/registry.js';
import { makeChain } from '../../registry/testing/qcow2-fixtures.js';
import { assemblePipeline, planPipeline } from '../plan.js';
import { writeVersionSeed } from './version-seed.js';

const facts = debianFacts(['openssh-server']);

test('a registered version gets a new machine\'s seed per call: the client\'s login, fresh passwords for what it enables', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'prescient-version-seed-'));
  try {
    const registry = await openRegistry({ root: join(dir, 'registry') });
    const chain = await makeChain(join(dir, 'chain'), 1, { sizeMiB: 8 });
    const vector = oneServiceVector({ service: 'redis-server', pkg: 'redis-server', inbound: [22, 6379], clientId: 'acme-1' });
    const plan = planPipeline({ pipeline: assemblePipeline(), vector, facts, sources: new Map() });
    await registry.register({ repository: 'clients/acme-1', layers: [{ path: chain.files[0]! }], config: { usageVector: vector, plan, baseFacts: facts }, tags: ['latest'] });
    const login = { user: 'alice', sshAuthorizedKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl'] };
    const a = await writeVersionSeed({ registry, reference: 'clients/acme-1:latest', outDir: join(dir, 'a'), login, extraFiles: [{ path: '/etc/prescient/agent.token', content: 'tok', owner: 'root:root', permissions: '0600' }] });
    const b = await writeVersionSeed({ registry, reference: 'clients/acme-1:latest', outDir: join(dir, 'b') });
    assert.deepEqual(a.credentials.services.map((s) => s.service), ['redis']);
    assert.notEqual(a.credentials.services[0]!.password, b.credentials.services[0]!.password);
    assert.equal(a.credentials.hostname, 'acme-1');
    const userData = await readFile(join(a.seedDir, 'user-data'), 'utf8');
    assert.ok(userData.includes(a.credentials.services[0]!.password));
    assert.ok(userData.includes('/etc/prescient/agent.token'));
    assert.ok(userData.includes('"alice"'));
    assert.equal((await stat(a.credentialsFile)).mode & 0o777, 0o600);
    await assert.rejects(writeVersionSeed({ registry, reference: 'clients/nope:latest', outDir: join(dir, 'c') }));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
