import assert from 'node:assert/strict';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { run } from '../core/exec.js';
import { debianBase, scratchDir, testPaths } from '../../test/support/images.js';
import { oneServiceVector } from '../../test/support/service-vectors.js';
import type { BaseImage } from '../image/bases/build.js';
import { withImageSession } from '../image/open.js';
import { parseUsageVector } from '../usage-vector/validate.js';
import { personalize, type PersonalizeReport } from './personalize.js';
import { assemblePipeline } from './plan.js';
import type { MachineCredentials } from './spec/machine-seed.js';

/**
 * No secret is in any layer: two clients get images from the same vector (so they share every
 * layer), each with its own SSH key, its own service passwords and an extra seed file standing
 * for the in-guest agent's credential. Every layer file of both images is read byte by byte,
 * and each image's filesystem searched, for every one of those secrets: none is found. They
 * are in each client's seed and credentials.json only.
 */
const p = testPaths();
let base: BaseImage;
let work: Awaited<ReturnType<typeof scratchDir>>;
const clients: { id: string; report: PersonalizeReport; secrets: string[] }[] = [];

function vector(clientId: string) {
  const v = oneServiceVector({ service: 'redis-server', pkg: 'redis-server', inbound: [22, 6379, 5432, 3306], clientId });
  return parseUsageVector({
    ...v,
    software: [{ name: 'redis-server', probability: 0.9 }, { name: 'postgresql', probability: 0.9 }, { name: 'mariadb-server', probability: 0.9 }],
    services: [...v.services, { name: 'postgresql', expectedLoad: { connections: 10 }, concurrency: 10 }, { name: 'mariadb', expectedLoad: { connections: 10 }, concurrency: 10 }],
  });
}

/** Whether `needle` occurs in the file, read in 8 MiB chunks that overlap by the needle's length. */
async function fileContains(path: string, needles: readonly string[]): Promise<string[]> {
  const bufs = needles.map((n) => Buffer.from(n));
  const longest = Math.max(...bufs.map((b) => b.length));
  const found = new Set<string>();
  const fh = await open(path, 'r');
  try {
    const chunk = Buffer.alloc(8 * 1024 * 1024 + longest);
    let pos = 0;
    let carry = 0;
    for (;;) {
      const { bytesRead } = await fh.read(chunk, carry, chunk.length - carry, pos);
      if (bytesRead === 0) break;
      const view = chunk.subarray(0, carry + bytesRead);
      for (const [i, b] of bufs.entries()) if (view.includes(b)) found.add(needles[i]!);
      pos += bytesRead;
      carry = Math.min(longest, view.length);
      view.copy(chunk, 0, view.length - carry);
    }
  } finally {
    await fh.close();
  }
  return [...found];
}

before(async () => {
  base = await debianBase();
  work = await scratchDir();
  for (const id of ['layers-alice', 'layers-bob']) {
    const key = join(work.dir, `${id}_key`);
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    const pub = (await readFile(`${key}.pub`, 'utf8')).trim().split(' ').slice(0, 2).join(' ');
    const agentToken = `agent-credential-${id}-${Math.random().toString(36).slice(2)}`;
    const report = await personalize({
      base,
      vector: vector(id),
      pipeline: assemblePipeline(),
      outDir: join(work.dir, id),
      layersDir: p.layers,
      runtimeDir: p.runtime,
      packageCacheDir: p.packageCache,
      flatten: false,
      login: { user: 'dev', sshAuthorizedKeys: [pub] },
      seedFiles: [{ path: '/etc/prescient/agent/credential', content: agentToken, owner: 'root:root', permissions: '0600' }],
    });
    const creds = JSON.parse(await readFile(report.outputs.credentials, 'utf8')) as MachineCredentials;
    assert.deepEqual(creds.services.map((s) => s.service).sort(), ['mariadb', 'postgresql', 'redis']);
    clients.push({ id, report, secrets: [...creds.services.map((s) => s.password), pub.split(' ')[1]!, agentToken] });
  }
});

after(async () => work.remove());

test('the two clients share every layer, and their seeds differ', async () => {
  assert.deepEqual(clients[0]!.report.layers, clients[1]!.report.layers);
  const [a, b] = await Promise.all(clients.map((c) => readFile(join(c.report.outputs.seed, 'user-data'), 'utf8')));
  for (const s of clients[0]!.secrets) assert.ok(a!.includes(s) && !b!.includes(s), 'each secret is in its own client\'s seed only');
});

test('no SSH key, service password or agent credential is in any layer file of either image', async () => {
  const secrets = clients.flatMap((c) => c.secrets);
  const layers = [...new Set(clients.flatMap((c) => c.report.layers))];
  assert.ok(layers.length >= 5, `base and module layers: ${layers.length}`);
  for (const layer of layers) assert.deepEqual(await fileContains(layer, secrets), [], `${layer} holds a secret`);
});

test('nor in either image\'s filesystem, as the guest sees it', async () => {
  const secrets = clients.flatMap((c) => c.secrets);
  for (const c of clients) {
    // The disk is this test's own thin overlay: opening it writable changes no layer.
    await withImageSession(c.report.outputs.disk!, { runtimeDir: p.runtime }, async (s) => {
      const r = await s.exec(['grep', '-rlF', ...secrets.flatMap((x) => ['-e', x]), '/etc', '/var', '/usr/local', '/home', '/root', '/opt', '/srv'], { allowFailure: true, timeoutMs: 600_000 });
      assert.equal(r.exitCode, 1, `grep found: ${r.stdout}`);
    });
  }
});

test('what holds the secrets is readable by its owner only', async () => {
  const { stat } = await import('node:fs/promises');
  for (const c of clients) {
    for (const f of [c.report.outputs.credentials, join(c.report.outputs.seed, 'user-data'), c.report.outputs.seedIso!]) assert.equal((await stat(f)).mode & 0o077, 0, `${f} is 0600`);
  }
});
