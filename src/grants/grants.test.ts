import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { paths } from '../core/config.js';
import { hasCommand, run } from '../core/exec.js';
import { openRegistry } from '../registry/registry.js';
import { makeChain } from '../registry/testing/qcow2-fixtures.js';
import { basicAuth } from '../../test/support/basic-auth.js';
import { startServe, type ServeProcess } from '../../test/support/serve.js';
import { Grants } from './grants.js';
import { issueRegistryToken, verifyRegistryToken } from './registry-token.js';
import { issueToken, verifyToken } from './token.js';
import { loadSigningKey } from './signing-key.js';
import { TokenSigner } from './token-signer.js';

const skip = !(await hasCommand('skopeo')) && 'skopeo is needed (scripts/debian-packages.txt)';

describe('tokens', () => {
  test('a token verifies with its key only, and not after it expires', () => {
    const key = Buffer.alloc(32, 1);
    const now = new Date('2026-01-01T00:00:00Z');
    const t = issueToken(key, { sub: 'a', access: [{ repository: 'clients/a', actions: ['pull'] }], gen: 'g1', ttlSeconds: 60, now });
    assert.equal(verifyToken(key, t.token, now).sub, 'a');
    assert.throws(() => verifyToken(Buffer.alloc(32, 2), t.token, now), /signature/);
    assert.throws(() => verifyToken(key, t.token, new Date(now.getTime() + 60_000)), /expired/);
    const [body, sig] = t.token.split('.');
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body!, 'base64url').toString()), admin: true })).toString('base64url');
    assert.throws(() => verifyToken(key, `${forged}.${sig}`, now), /signature/);
  });
});

describe('registry tokens (JWT in docker/distribution format)', () => {
  test('claims docker-registry checks, the certificate in x5c; verified with the key only, not after expiry, not altered', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'prescient-jwt-'));
    try {
      const signer = await TokenSigner.open(join(dir, 'secrets'));
      const again = await TokenSigner.open(join(dir, 'secrets'));
      assert.equal(again.certificatePem, signer.certificatePem, 'made once per home');
      const now = new Date('2026-01-01T00:00:00Z');
      const t = issueRegistryToken(signer, { sub: 'a', access: [{ repository: 'clients/a', actions: ['pull'] }], gen: 'g1', ttlSeconds: 60, now });
      const [h, p, sig] = t.token.split('.') as [string, string, string];
      const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as { alg: string; x5c: string[] };
      assert.equal(header.alg, 'ES256');
      assert.deepEqual(header.x5c, [signer.certificateBase64]);
      const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
      assert.deepEqual(
        { iss: claims['iss'], sub: claims['sub'], aud: claims['aud'], nbf: claims['nbf'], exp: claims['exp'], access: claims['access'] },
        { iss: 'prescient', sub: 'a', aud: 'prescient', nbf: now.getTime() / 1000, exp: now.getTime() / 1000 + 60, access: [{ type: 'repository', name: 'clients/a', actions: ['pull'] }] },
      );
      assert.equal(typeof claims['jti'], 'string');
      assert.deepEqual(verifyRegistryToken(signer, t.token, now).access, [{ repository: 'clients/a', actions: ['pull'] }]);
      assert.throws(() => verifyRegistryToken(signer, t.token, new Date(now.getTime() + 60_000)), /expired/);
      const stranger = await TokenSigner.open(join(dir, 'other'));
      assert.throws(() => verifyRegistryToken(stranger, t.token, now), /signature/);
      const forged = Buffer.from(JSON.stringify({ ...claims, admin: true })).toString('base64url');
      assert.throws(() => verifyRegistryToken(signer, `${h}.${forged}.${sig}`, now), /signature/);
      const none = Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url');
      assert.throws(() => verifyRegistryToken(signer, `${none}.${p}.`, now), /ES256/);
      const noName = signer.signJwt({ ...claims, access: [{ type: 'repository', actions: ['pull'] }] });
      assert.throws(() => verifyRegistryToken(signer, noName, now), (e: Error) => e.message === 'malformed token claims: access[0].name');
      // a token of the HMAC form of before the JWTs still opens the registry while it lives
      const grants = await Grants.open({ secretsDir: join(dir, 'home-secrets') });
      await grants.credentials.issue('a');
      const legacy = issueToken(await loadSigningKey(join(dir, 'home-secrets')), { sub: 'a', access: [{ repository: 'clients/a', actions: ['pull'] }], gen: grants.credentials.generationOf({ kind: 'client', clientId: 'a' }), ttlSeconds: 60 });
      assert.deepEqual(grants.verify(legacy.token).access, [{ repository: 'clients/a', actions: ['pull'] }]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('grants through prescient serve and skopeo', { skip }, () => {
  let dir: string;
  let home: string;
  let server: ServeProcess;
  let grants: Grants;
  let a: { username: string; secret: string };
  let b: { username: string; secret: string };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'prescient-grants-'));
    home = join(dir, 'home');
    await mkdir(join(dir, 'out'), { recursive: true });
    const chain = await makeChain(join(dir, 'chain'), 1, { sizeMiB: 8 });
    const registry = await openRegistry({ root: paths(home).registry });
    await registry.register({ repository: 'clients/a', layers: [{ path: chain.files[0]! }], config: { client: 'a' } });
    await registry.register({ repository: 'clients/b', layers: [{ path: chain.files[0]! }], config: { client: 'b' } });
    grants = await Grants.open({ secretsDir: paths(home).secrets });
    a = await grants.credentials.issue('a');
    b = await grants.credentials.issue('b');
    server = await startServe(home);
  });
  after(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const copy = (repo: string, auth: string[]) =>
    run('skopeo', ['copy', '--src-tls-verify=false', ...auth, `docker://127.0.0.1:${server.port}/${repo}:latest`, `oci:${join(dir, 'out', repo.replace('/', '-'))}:x`], { allowFailure: true, timeoutMs: 60_000 });

  test('the key and the admin secret are private files', async () => {
    assert.equal((await stat(join(paths(home).secrets, 'grant-hmac.key'))).mode & 0o777, 0o600);
    assert.equal((await stat(join(paths(home).secrets, 'admin.secret'))).mode & 0o777, 0o600);
    assert.equal((await stat(paths(home).secrets)).mode & 0o777, 0o700);
  });

  test('an anonymous pull gets the Docker challenge pointing at /v1/token', async () => {
    const r = await fetch(`${server.base}/v2/clients/a/manifests/latest`);
    assert.equal(r.status, 401);
    assert.equal(r.headers.get('www-authenticate'), `Bearer realm="http://127.0.0.1:${server.port}/v1/token",service="prescient",scope="repository:clients/a:pull"`);
    assert.equal((await fetch(`${server.base}/v2/`)).status, 401);
  });

  test('GET /v1/token: a client credential gets a token with expires_in and issued_at; a wrong one is refused', async () => {
    const ok = await fetch(`${server.base}/v1/token?service=prescient&scope=repository:clients/a:pull`, { headers: { authorization: basicAuth(a) } });
    assert.equal(ok.status, 200);
    const body = (await ok.json()) as { token: string; expires_in: number; issued_at: string };
    assert.equal(body.expires_in, 900);
    assert.ok(Date.parse(body.issued_at) <= Date.now());
    assert.deepEqual(grants.verify(body.token).access, [{ repository: 'clients/a', actions: ['pull'] }]);
    // asking for b's repository or for push yields a token without them
    const more = await fetch(`${server.base}/v1/token?scope=repository:clients/b:pull&scope=repository:clients/a:push`, { headers: { authorization: basicAuth(a) } });
    assert.deepEqual(grants.verify(((await more.json()) as { token: string }).token).access, []);
    assert.equal((await fetch(`${server.base}/v1/token`, { headers: { authorization: basicAuth({ username: 'a', secret: b.secret }) } })).status, 401);
    assert.equal((await fetch(`${server.base}/v1/token`)).status, 401);
  });

  test('a bearer token mints nothing: /v1/token and /v1/requests want the credential (finding 6)', async () => {
    const token = ((await (await fetch(`${server.base}/v1/token?scope=repository:clients/a:pull`, { headers: { authorization: basicAuth(a) } })).json()) as { token: string }).token;
    const renew = await fetch(`${server.base}/v1/token?scope=repository:clients/a:pull`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(renew.status, 401);
    assert.match(await renew.text(), /credential-not-token/);
    const request = await fetch(`${server.base}/v1/requests`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"clientId":"a"}' });
    assert.equal(request.status, 401);
  });

  test('re-issuing or revoking a credential ends its live tokens: the old token neither pulls nor mints (finding 6)', async () => {
    const registry = await openRegistry({ root: paths(home).registry });
    await registry.register({ repository: 'clients/e', layers: [{ path: (await makeChain(join(dir, 'chain-e'), 1, { sizeMiB: 1 })).files[0]! }], config: { client: 'e' } });
    const first = await grants.credentials.issue('e');
    const old = ((await (await fetch(`${server.base}/v1/token?scope=repository:clients/e:pull`, { headers: { authorization: basicAuth(first) } })).json()) as { token: string }).token;
    const pull = (token: string) => fetch(`${server.base}/v2/clients/e/manifests/latest`, { headers: { authorization: `Bearer ${token}`, accept: 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal((await pull(old)).status, 200);
    const second = await grants.credentials.issue('e'); // re-issued, as `prescient credentials issue e` would
    const refused = await pull(old);
    assert.equal(refused.status, 401);
    assert.match(await refused.text(), /revoked/);
    assert.equal((await fetch(`${server.base}/v1/token?scope=repository:clients/e:pull`, { headers: { authorization: basicAuth(first) } })).status, 401);
    const fresh = ((await (await fetch(`${server.base}/v1/token?scope=repository:clients/e:pull`, { headers: { authorization: basicAuth(second) } })).json()) as { token: string }).token;
    assert.equal((await pull(fresh)).status, 200);
    await grants.credentials.revoke('e');
    assert.equal((await pull(fresh)).status, 401);
    assert.equal((await fetch(`${server.base}/v1/token`, { headers: { authorization: basicAuth(second) } })).status, 401);
  });

  test('the realm comes from the configured address, never from the Host header (finding 10)', async () => {
    const r = await fetch(`${server.base}/v2/clients/a/manifests/latest`, { headers: { host: 'evil.example:1' } });
    assert.equal(r.status, 401);
    assert.match(r.headers.get('www-authenticate') ?? '', new RegExp(`^Bearer realm="http://127\\.0\\.0\\.1:${server.port}/v1/token"`));
    const configured = await startServe(home, ['--public-url', 'https://images.example.test/']);
    try {
      const c = await fetch(`${configured.base}/v2/`, { headers: { host: 'evil.example' } });
      assert.match(c.headers.get('www-authenticate') ?? '', /^Bearer realm="https:\/\/images\.example\.test\/v1\/token"/);
    } finally {
      await configured.stop();
    }
  });

  test('__proto__, constructor, toString… as a Basic username answer 401 without internals (finding 7)', async () => {
    for (const username of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'prototype', 'source/__proto__', 'source/constructor', '', 'admin\u0000']) {
      for (const path of ['/v1/token', '/v1/usage-vectors?client=a']) {
        const r = await fetch(`${server.base}${path}`, { headers: { authorization: basicAuth({ username, secret: 'x' }) } });
        const text = await r.text();
        assert.equal(r.status, 401, `${JSON.stringify(username)} on ${path}: ${r.status} ${text}`);
        assert.doesNotMatch(text, /TypeError|undefined|at \w+ \(/);
      }
    }
    assert.equal((await fetch(`${server.base}/healthz`)).status, 200);
  });

  test('skopeo with a client credential pulls its own repository and not another client\'s', async () => {
    const own = await copy('clients/a', ['--src-creds', `a:${a.secret}`]);
    assert.equal(own.exitCode, 0, own.stderr);
    const other = await copy('clients/b', ['--src-creds', `a:${a.secret}`]);
    assert.notEqual(other.exitCode, 0);
    assert.match(other.stderr, /unauthorized|denied|401|403/i);
    const wrong = await copy('clients/a', ['--src-creds', `a:${b.secret}`]);
    assert.notEqual(wrong.exitCode, 0);
  });

  test('skopeo with a granted token pulls that client\'s repository only; direct HTTP with another client\'s token is refused', async () => {
    const grant = grants.grantFor('b');
    const own = await copy('clients/b', ['--src-registry-token', grant.token]);
    assert.equal(own.exitCode, 0, own.stderr);
    const other = await copy('clients/a', ['--src-registry-token', grant.token]);
    assert.notEqual(other.exitCode, 0);
    const r = await fetch(`${server.base}/v2/clients/a/manifests/latest`, { headers: { authorization: `Bearer ${grant.token}` } });
    assert.ok(r.status === 401 || r.status === 403, String(r.status));
    const blobs = await fetch(`${server.base}/v2/clients/a/tags/list`, { headers: { authorization: `Bearer ${grant.token}` } });
    assert.ok(blobs.status === 401 || blobs.status === 403, String(blobs.status));
  });

  test('an expired token is refused, by HTTP and by skopeo', async () => {
    const past = await Grants.open({ secretsDir: paths(home).secrets, ttlSeconds: 60, now: () => new Date(Date.now() - 120_000) });
    const stale = past.grantFor('a');
    const r = await fetch(`${server.base}/v2/clients/a/manifests/latest`, { headers: { authorization: `Bearer ${stale.token}` } });
    assert.equal(r.status, 401);
    assert.match(r.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    assert.match(await r.text(), /expired/);
    const c = await copy('clients/a', ['--src-registry-token', stale.token]);
    assert.notEqual(c.exitCode, 0);
  });

  test('the admin credential pulls any repository and may push; a client may not push', async () => {
    const admin = grants.credentials.admin;
    const pulled = await copy('clients/b', ['--src-creds', `${admin.username}:${admin.secret}`]);
    assert.equal(pulled.exitCode, 0, pulled.stderr);
    const src = `oci:${join(dir, 'out', 'clients-b')}:x`;
    const push = (creds: string) => run('skopeo', ['copy', '--dest-tls-verify=false', '--dest-creds', creds, src, `docker://127.0.0.1:${server.port}/clients/c:latest`], { allowFailure: true, timeoutMs: 60_000 });
    assert.notEqual((await push(`a:${a.secret}`)).exitCode, 0);
    const pushed = await push(`${admin.username}:${admin.secret}`);
    assert.equal(pushed.exitCode, 0, pushed.stderr);
  });

  test('admin operation: only the admin credential creates a client credential, which then works', async () => {
    const create = (auth?: string) => fetch(`${server.base}/v1/clients/d/credentials`, { method: 'POST', ...(auth ? { headers: { authorization: auth } } : {}) });
    assert.equal((await create()).status, 401);
    assert.equal((await create(basicAuth(a))).status, 403);
    const made = await create(basicAuth(grants.credentials.admin));
    assert.equal(made.status, 201);
    const d = (await made.json()) as { username: string; secret: string };
    assert.equal(d.username, 'd');
    const token = await fetch(`${server.base}/v1/token?scope=repository:clients/d:pull`, { headers: { authorization: basicAuth(d) } });
    assert.deepEqual(grants.verify(((await token.json()) as { token: string }).token).access, [{ repository: 'clients/d', actions: ['pull'] }]);
  });
});
