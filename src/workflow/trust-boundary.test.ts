import assert from 'node:assert/strict';
import { lstat, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { paths } from '../core/config.js';
import { hasCommand, run } from '../core/exec.js';
import { sampleTelemetry } from '../demo/sample-telemetry.js';
import { Grants } from '../grants/grants.js';
import { withImageSession } from '../image/open.js';
import { parsePolicy, policyFile, savePolicy } from '../policy/policy.js';
import { openRegistry } from '../registry/registry.js';
import { importFiles } from '../telemetry/import-files.js';
import { openPrescient } from '../app/open-prescient.js';
import type { UsageVector } from '../contracts/usage-vector.js';
import { basicAuth } from '../../test/support/basic-auth.js';
import { testHomes, type TestHomes } from '../../test/support/homes.js';
import { debianBase, occurrences, testPaths } from '../../test/support/images.js';
import { cliPath } from '../../test/support/repo.js';
import { requestImage } from '../../test/support/request-image.js';
import { sampleWebClient } from '../../test/support/sample-web-client.js';
import { startServe, type ServeProcess } from '../../test/support/serve.js';
import { workflowConfigFiles } from './open-request-workflow.js';
import type { RequestResult } from './request-result.js';

const skip = !(await hasCommand('skopeo')) && 'skopeo is needed (scripts/debian-packages.txt)';

/** A web client whose flows name port 23 (no service), 6379 (redis) and an exfiltration host beside its usual traffic. */
const webshop = sampleWebClient({ id: 'webshop', listens: [80, 23, 6379], reaches: [{ host: 'deb.debian.org', port: 443 }, { host: 'exfil.example', port: 443 }] });
const account = 'ops@webshop.example';

/** Every regular file under `dir`, not following symlinks (the shared base, layers and package cache are linked in). */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of await readdir(dir)) {
    const path = join(dir, name);
    const st = await lstat(path);
    if (st.isDirectory()) out.push(...(await filesUnder(path)));
    else if (st.isFile()) out.push(path);
  }
  return out;
}

/**
 * Issue 13, findings 1, 4 and 9 end to end, through the real `prescient serve`, the real pipeline and
 * skopeo: telemetry naming the home's secrets, the host's /etc/shadow, a missing file, port 23
 * and an outbound host off the allowlist, for a trained client. The client's request still
 * succeeds; the vector names none of it; the image it pulls holds none of those files and opens
 * neither port 23 nor the host; and no file under the home holds the account's e-mail address or,
 * world-readable, a secret.
 */
describe('trust boundaries: telemetry describes, it never commands', { skip }, () => {
  let homes: TestHomes<'home'>;
  let dir: string;
  let home: string;
  let server: ServeProcess;
  let auth: string;
  let secrets: string[];

  before(async () => {
    await debianBase();
    homes = await testHomes({ prefix: 'trust', names: ['home'], share: ['bases', 'layers', 'cache'] });
    dir = homes.dir;
    home = homes.homes.home;
    await writeFile(workflowConfigFiles(paths(home)).identify, JSON.stringify({ rules: [{ kind: 'pattern', field: 'account', regex: '@webshop\\.example$', clientId: 'webshop', category: 'web' }], fallbackCategory: 'general' }));
    const grants = await Grants.open({ secretsDir: paths(home).secrets });
    const credential = await grants.credentials.issue('webshop');
    auth = basicAuth(credential);
    // The secrets as they are written: the client's and the admin's, and the key material of every file under secrets/.
    const files = await Promise.all((await readdir(paths(home).secrets)).map((f) => readFile(join(paths(home).secrets, f), 'utf8')));
    secrets = [...new Set([credential.secret, grants.credentials.admin.secret, ...files.flatMap((t) => t.match(/[A-Za-z0-9_+/=-]{20,}/g) ?? [])])];

    // The admin catalogued one dataset and allowlisted one outbound destination.
    await writeFile(join(dir, 'catalogue.csv'), 'sku,price\n1,9.99\n');
    await savePolicy(policyFile(paths(home)), parsePolicy({ datasets: [{ name: 'catalogue', kind: 'file', path: join(dir, 'catalogue.csv'), maxBytes: 1 << 20 }], outbound: { allow: [{ host: 'deb.debian.org', port: 443 }] } }));

    const endMs = Date.UTC(2026, 10, 28);
    const access = (target: string, i: number): Record<string, unknown> => ({ kind: 'access', time: endMs - 3_600_000 + i * 1000, subject: 'client:webshop', source: 'hypervisor', target, bytes: 4096, op: 'read' });
    const hostile = [join(home, 'secrets', 'admin.secret'), join(home, 'secrets', 'grant-hmac.key'), '/etc/shadow', 'secrets/admin.secret', '/srv/prescient-no-such-file', 'catalogue'].map(access);
    const ingestion = await (await openPrescient({ home })).ingestion();
    try {
      const events = [...sampleTelemetry({ clients: [webshop], days: 5, endMs }), ...hostile];
      const file = join(dir, 'telemetry.ndjson');
      await writeFile(file, events.map((e) => JSON.stringify(e)).join('\n'));
      const report = await importFiles({ path: file, format: 'ndjson', ingestor: ingestion.ingestor });
      assert.equal(report.accepted, events.length, JSON.stringify(report));
      await rm(file);
    } finally {
      await ingestion.close();
    }
    await run(process.execPath, [cliPath, 'train', '--category', 'web', '--time-budget', '30', '--json'], { env: { ...process.env, PRESCIENT_HOME: home }, timeoutMs: 900_000 });
    server = await startServe(home);
  });
  after(async () => {
    await server?.stop();
    await homes?.remove();
  });

  const request = (body: unknown): Promise<RequestResult> => requestImage(server, auth, body);

  test('the request succeeds, and the pulled image holds no host file, no port 23 and no destination off the allowlist', async () => {
    const r = await request({ account });
    assert.equal(r.clientId, 'webshop');
    assert.equal(r.source, 'built', JSON.stringify(r.buildError));

    const out = join(dir, 'pulled');
    await run('skopeo', ['copy', '--src-tls-verify=false', '--src-registry-token', r.grant.token, `docker://127.0.0.1:${server.port}/${r.image.reference}`, `oci:${out}:webshop`], { timeoutMs: 600_000 });
    const mine = await openRegistry({ root: join(dir, 'mine') });
    await mine.importLayout(out, 'webshop', 'clients/webshop', 'latest');
    const config = (await mine.show('clients/webshop:latest')).config;
    for (const hostDir of [dir, testPaths().home]) {
      const text = JSON.stringify(config);
      assert.ok(!text.includes(hostDir), `the pulled config names a host path: …${text.slice(Math.max(0, text.indexOf(hostDir) - 60), text.indexOf(hostDir) + 80)}…`);
    }
    // Nor does any block of any layer (an ext4 journal keeps copies of the superblock, which
    // names the folder the filesystem was last mounted on): not these homes, nor the session or
    // base-build folder of any home whose layers the shared cache holds.
    const hostPaths = [dir, testPaths().home, '/run/sessions/', '/bases/.build-'];
    for (const blob of await readdir(join(out, 'blobs/sha256'))) {
      assert.equal(await occurrences(join(out, 'blobs/sha256', blob), ...hostPaths), 0, `blob ${blob} names one of ${hostPaths.join(', ')}`);
    }
    const vector = config['usageVector'] as UsageVector;
    assert.equal(vector.model.id, 'selector', 'predicted by the trained models, where telemetry reaches the vector');
    assert.deepEqual(vector.datasets.map((d) => [d.source, d.destination]), [['catalogue', '/var/lib/prescient/datasets/catalogue']]);
    assert.deepEqual(vector.network.outbound.map((o) => o.host), ['deb.debian.org']);
    assert.ok(!vector.network.inbound.some((p) => p.port === 23), JSON.stringify(vector.network.inbound));
    assert.ok(vector.network.inbound.some((p) => p.port === 6379), 'redis, a predicted service, keeps its port');

    const hostShadow = await readFile('/etc/shadow', 'utf8');
    const chain = await mine.checkout('clients/webshop:latest', join(dir, 'checkout'));
    await withImageSession(chain.top, { runtimeDir: join(dir, 'run'), readOnly: true }, async (s) => {
      assert.equal((await s.readFile('/var/lib/prescient/datasets/catalogue')).toString(), 'sku,price\n1,9.99\n');
      const manifest = JSON.parse((await s.readFile('/var/lib/prescient/datasets.json')).toString()) as { source: string }[];
      assert.deepEqual(manifest.map((m) => m.source), ['catalogue']);
      assert.notEqual((await s.readFile('/etc/shadow')).toString(), hostShadow, "the guest's /etc/shadow is its own");
      for (const path of [join(home, 'secrets'), '/secrets', '/srv/prescient-no-such-file']) assert.equal(await s.stat(path), undefined, path);
      // No secret of the home anywhere the data module or a module's files could have put it.
      const found = await s.exec(['grep', '-rlF', ...secrets.flatMap((x) => ['-e', x]), '/etc', '/srv', '/var/lib/prescient', '/root', '/home', '/opt'], { allowFailure: true });
      assert.equal(found.stdout.trim(), '', `secrets found in the image: ${found.stdout}`);
      const rules = (await s.readFile('/etc/nftables.conf')).toString();
      assert.match(rules, /tcp dport \{[^}]*\b6379\b/);
      assert.doesNotMatch(rules, /\b23\b/);
    });

    // Asked again: answered at once from the registered image (the missing file fails nothing).
    const again = await request({ account });
    assert.equal(again.source, 'prebuilt');
  });

  test('a client asking for a base the admin did not allow is refused, naming the policy', async () => {
    const res = await fetch(`${server.base}/v1/requests`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify({ account, base: 'hostile' }) });
    const text = await res.text();
    assert.equal(res.status, 400, text);
    assert.match((JSON.parse(text) as { message: string }).message, /^base: "hostile" is not an allowed base \(allowed: debian-12\) \(admin policy: policy\.json\)$/);
  });

  test('no file under the home holds the account e-mail (SQLite and WAL included); no world-readable file holds a secret', async () => {
    const files = await filesUnder(home);
    assert.ok(files.some((f) => f.endsWith('request-history.jsonl')) && files.some((f) => f.endsWith('prescient.db')), files.join('\n'));
    for (const f of files) {
      const bytes = await readFile(f);
      assert.equal(bytes.includes(account), false, `${f} holds ${account}`);
      const st = await lstat(f);
      if (st.mode & 0o004) for (const secret of secrets) assert.equal(bytes.includes(secret), false, `${f} is world-readable and holds a secret`);
    }
    assert.equal((await lstat(join(home, 'request-history.jsonl'))).mode & 0o777, 0o600);
  });
});
