import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { paths } from '../../core/config.js';
import { run } from '../../core/exec.js';
import { Grants } from '../../grants/grants.js';
import { agentCredential } from '../../grants/agent-credential.js';
import { withImageSession } from '../../image/open.js';
import { openRegistry, type Registry } from '../../registry/registry.js';
import { createApp, listen } from '../app.js';
import { telemetryRoutes } from './telemetry.js';
import { openPrescient } from '../../app/open-prescient.js';
import type { Ingestion } from '../../telemetry/open-ingestion.js';
import { debianBase, testHome, testPaths } from '../../../test/support/images.js';
import { openRequestWorkflow } from '../../workflow/open-request-workflow.js';
import type { RequestWorkflow } from '../../workflow/request-workflow.js';

/**
 * In-guest consent decides what a request's image and seed carry (real pipeline, registry and
 * store): without it, no agent in the image, no agent credential in the seed, and the server
 * stores nothing the agent would send; with it, both, and the seed names the version handed out.
 */
let dir: string;
let registry: Registry;
let ingestion: Ingestion;
let workflow: RequestWorkflow;

before(async () => {
  await debianBase();
  dir = await mkdtemp(join(testHome(), 'consent-'));
  const t = testPaths();
  const p = { ...paths(dir), bases: t.bases, layers: t.layers, packageCache: t.packageCache };
  registry = await openRegistry({ root: p.registry });
  const grants = await Grants.open({ secretsDir: p.secrets });
  ingestion = await (await openPrescient({ home: dir })).ingestion();
  workflow = await openRequestWorkflow({
    paths: p,
    registry,
    grants,
    telemetry: ingestion,
    agent: { url: 'http://10.0.2.100', issueCredential: (clientId) => agentCredential({ credentials: grants.credentials, secretsDir: p.secrets, clientId }) },
  });
});

after(async () => {
  await ingestion?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function agentFilesIn(digest: string): Promise<{ collect: boolean; timer: boolean }> {
  const out = join(dir, `checkout-${digest.slice(7, 19)}`);
  const c = await registry.checkout(digest, out);
  // Opened read-write through a throwaway overlay: a layer whose build session was unmounted
  // lazily (a busy mount under load) has a journal to replay, which a read-only mount refuses.
  const overlay = join(out, 'look.qcow2');
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', c.top, '-F', 'qcow2', overlay]);
  return withImageSession(overlay, { runtimeDir: join(dir, 'run') }, async (s) => ({
    collect: (await s.stat('/usr/lib/prescient-agent/collect')) !== undefined,
    timer: (await s.stat('/etc/systemd/system/timers.target.wants/prescient-agent.timer')) !== undefined,
  }));
}

test('without in-guest consent: no agent in the image or the seed, and agent data is refused (403) and not stored', async () => {
  const r = await workflow.handle({ clientId: 'no-consent' });
  assert.equal(r.inGuestAgent, false);
  assert.doesNotMatch(r.seed['user-data'], /agent\.env|PRESCIENT_/);
  assert.deepEqual(await agentFilesIn(`${r.image.repository}@${r.image.digest}`), { collect: false, timer: false });

  const server = createApp({ routes: [telemetryRoutes({ ingestor: ingestion.ingestor })] });
  const { port } = await listen(server, 0);
  try {
    const body = [
      { kind: 'launch', time: Date.now(), subject: 'client:no-consent', source: 'agent', image: r.image.digest, executable: 'psql' },
      { kind: 'resource', time: Date.now(), subject: 'client:no-consent', source: 'agent', image: r.image.digest, cpuPercent: 3 },
    ]
      .map((e) => JSON.stringify(e))
      .join('\n');
    const res = await fetch(`http://127.0.0.1:${port}/v1/telemetry`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
    assert.equal(res.status, 403);
    assert.equal(((await res.json()) as { error: string }).error, 'NO_CONSENT');
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  const subject = ingestion.anonymiser.pseudonym('client', 'no-consent');
  assert.deepEqual(await ingestion.store.guestActivity(subject), { samples: [], programs: [], flows: [], accesses: [] });
  assert.deepEqual(await ingestion.store.guestImages(subject), []);
  assert.ok(!(await ingestion.store.listSubjects()).some((s) => s.subject === subject));
});

test('with in-guest consent: the image carries the agent, and only the seed its server, credential and version', async () => {
  await ingestion.consent.grant({ kind: 'client', id: 'consenting' });
  const r = await workflow.handle({ clientId: 'consenting' });
  assert.equal(r.inGuestAgent, true);
  const userData = r.seed['user-data'];
  const config = JSON.parse(userData.slice(userData.indexOf('\n') + 1)) as { write_files?: { path: string; permissions: string; owner: string; content: string }[] };
  const env = config.write_files?.find((f) => f.path === '/etc/prescient/agent.env');
  assert.ok(env, userData);
  assert.deepEqual([env.owner, env.permissions], ['root:root', '0600']);
  assert.ok(userData.includes(`PRESCIENT_IMAGE=${r.image.digest}`), 'the seed names the version handed out');
  assert.ok(userData.includes('PRESCIENT_SUBJECT=client:consenting'));
  assert.ok(userData.includes('PRESCIENT_URL=http://10.0.2.100'));
  assert.deepEqual(await agentFilesIn(`${r.image.repository}@${r.image.digest}`), { collect: true, timer: true });
  // Asked again, the machine delivered first keeps its agent's credential (it is not re-issued).
  const credentialOf = (seed: string): string => /PRESCIENT_CREDENTIAL=([^\\\n"]+)/.exec(seed)?.[1] ?? 'none';
  const second = await workflow.handle({ clientId: 'consenting' });
  assert.equal(second.source, 'prebuilt');
  assert.notEqual(credentialOf(userData), 'none');
  assert.equal(credentialOf(second.seed['user-data']), credentialOf(userData));
  // The same client without consent again: the plan (and image) lose the agent.
  await ingestion.consent.revoke({ kind: 'client', id: 'consenting' });
  const again = await workflow.handle({ clientId: 'consenting' });
  assert.equal(again.inGuestAgent, false);
  assert.notEqual(again.planDigest, r.planDigest);
});
