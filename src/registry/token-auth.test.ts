import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { paths } from '../core/config.js';
import { run } from '../core/exec.js';
import { Grants } from '../grants/grants.js';
import { tokenSignerFile } from '../grants/token-signer.js';
import { startServe, type ServeProcess } from '../../test/support/serve.js';
import { openRegistry } from './registry.js';
import { pushImage } from './remote.js';
import { hasDockerRegistry, startDockerRegistry, type RunningRegistry } from './testing/docker-registry.js';
import { makeChain } from './testing/qcow2-fixtures.js';

const skip = !(await hasDockerRegistry()) && 'skopeo and docker-registry are needed (scripts/debian-packages.txt)';

/**
 * Debian's docker-registry with `auth: token` trusting Prescient's certificate, and the real
 * `prescient serve` as its token realm: the grants Prescient issues open a client's own
 * repository there and nothing else, exactly as on Prescient's own registry.
 */
describe("docker-registry verifies Prescient's tokens (auth: token)", { skip }, () => {
  let dir: string;
  let home: string;
  let server: ServeProcess;
  let theirs: RunningRegistry;
  let grants: Grants;
  let a: { username: string; secret: string };
  let b: { username: string; secret: string };

  const skopeo = (...args: string[]) => run('skopeo', args, { allowFailure: true, timeoutMs: 120_000 });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'prescient-token-auth-'));
    home = join(dir, 'home');
    grants = await Grants.open({ secretsDir: paths(home).secrets });
    a = await grants.credentials.issue('a');
    b = await grants.credentials.issue('b');
    const registry = await openRegistry({ root: paths(home).registry });
    const chain = await makeChain(join(dir, 'chain'), 2, { sizeMiB: 4 });
    await registry.register({ repository: 'clients/a', layers: chain.files.map((path) => ({ path })), config: { client: 'a' } });
    await registry.register({ repository: 'clients/b', layers: chain.files.slice(0, 1).map((path) => ({ path })), config: { client: 'b' } });
    server = await startServe(home);
    theirs = await startDockerRegistry(join(dir, 'docker-registry'), { tokenAuth: { realm: `${server.base}/v1/token`, certificatePem: grants.signer.certificatePem } });
    // the admin pushes both clients' images there, through the same token flow
    const admin = `${grants.credentials.admin.username}:${grants.credentials.admin.secret}`;
    for (const c of ['a', 'b']) await pushImage(registry, `clients/${c}:latest`, `${theirs.address}/clients/${c}:latest`, { insecure: true, creds: admin });
  });
  after(async () => {
    await theirs?.stop();
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('the signing key and its certificate are a private file; the CLI prints the certificate', async () => {
    assert.equal((await stat(join(paths(home).secrets, tokenSignerFile))).mode & 0o777, 0o600);
    const cli = join(import.meta.dirname, '..', '..', '..', 'bin', 'prescient.js');
    const printed = await run(process.execPath, [cli, 'registry', 'cert'], { env: { ...process.env, PRESCIENT_HOME: home } });
    assert.equal(printed.stdout.trim(), grants.signer.certificatePem.trim());
    const snippet = await run(process.execPath, [cli, 'registry', 'cert', '--realm', 'https://images.example.com', '--cert-file', '/etc/x.crt'], { env: { ...process.env, PRESCIENT_HOME: home } });
    assert.match(snippet.stdout, /realm: https:\/\/images\.example\.com\/v1\/token\n\s+service: prescient\n\s+issuer: prescient\n\s+rootcertbundle: \/etc\/x\.crt/);
  });

  test('without a token docker-registry challenges with Prescient as the realm', async () => {
    const r = await fetch(`http://${theirs.address}/v2/clients/a/manifests/latest`);
    assert.equal(r.status, 401);
    assert.match(r.headers.get('www-authenticate') ?? '', new RegExp(`^Bearer realm="${server.base}/v1/token",service="prescient",scope="repository:clients/a:pull"`));
  });

  test("a client pulls its own repository with its credential; another client's is refused", async () => {
    const own = await skopeo('copy', '--src-tls-verify=false', '--src-creds', `a:${a.secret}`, `docker://${theirs.address}/clients/a:latest`, `oci:${join(dir, 'pulled-a')}:x`);
    assert.equal(own.exitCode, 0, own.stderr);
    const other = await skopeo('copy', '--src-tls-verify=false', '--src-creds', `b:${b.secret}`, `docker://${theirs.address}/clients/a:latest`, `oci:${join(dir, 'pulled-b')}:x`);
    assert.notEqual(other.exitCode, 0);
    assert.match(other.stderr, /unauthorized|denied|authentication required|401|403/i);
  });

  test("the grant a request hands back is a bearer token docker-registry accepts, for the client's own repository only", async () => {
    const grant = grants.grantFor('a');
    const own = await fetch(`http://${theirs.address}/v2/clients/a/manifests/latest`, { headers: { authorization: `Bearer ${grant.token}`, accept: 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(own.status, 200);
    const other = await fetch(`http://${theirs.address}/v2/clients/b/manifests/latest`, { headers: { authorization: `Bearer ${grant.token}`, accept: 'application/vnd.oci.image.manifest.v1+json' } });
    assert.ok(other.status === 401 || other.status === 403, `status ${other.status}`);
    // the same token on Prescient's own registry
    assert.equal((await fetch(`${server.base}/v2/clients/a/manifests/latest`, { headers: { authorization: `Bearer ${grant.token}` } })).status, 200);
    assert.equal((await fetch(`${server.base}/v2/clients/b/manifests/latest`, { headers: { authorization: `Bearer ${grant.token}` } })).status, 401);
  });

  test('a token signed by another home is refused by that registry', async () => {
    const stranger = await Grants.open({ secretsDir: join(dir, 'stranger', 'secrets') });
    const forged = stranger.tokenFor({ kind: 'admin' }, [{ repository: 'clients/a', actions: ['pull'] }]);
    const r = await fetch(`http://${theirs.address}/v2/clients/a/manifests/latest`, { headers: { authorization: `Bearer ${forged.token}` } });
    assert.equal(r.status, 401);
  });
});
