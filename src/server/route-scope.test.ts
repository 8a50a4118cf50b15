import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { paths } from '../core/config.js';
import { Grants } from '../grants/grants.js';
import { basicAuth } from '../../test/support/basic-auth.js';
import { startServe, type ServeProcess } from '../../test/support/serve.js';
import type { RouteTableEntry } from './routes/route-table.js';

interface Creds {
  username: string;
  secret: string;
}

/** A concrete request for a route of the table, about client `a`. */
function concrete(route: RouteTableEntry, method: string): { path: string; body?: string; type?: string } {
  let path = route.path.replace(':clientId', 'a');
  if (path === '/v2') path = '/v2/';
  if (path === '/v2/*') path = method === 'POST' ? '/v2/clients/a/blobs/uploads/' : '/v2/clients/a/manifests/latest';
  if (path === '/v1/usage-vectors') path += '?client=a';
  if (path === '/v1/token') path += '?scope=repository:clients/a:pull';
  if (method === 'GET' || method === 'HEAD' || method === 'DELETE') return { path };
  if (route.path === '/v1/telemetry') return { path, type: 'application/x-ndjson', body: JSON.stringify({ kind: 'resource', time: Date.UTC(2026, 0, 1), subject: 'client:a', source: 'hypervisor', cpuPercent: 5 }) };
  if (route.path === '/v1/metrics') {
    const point = { attributes: [{ key: 'state', value: { stringValue: 'used' } }], timeUnixNano: String(BigInt(Date.UTC(2026, 0, 1)) * 1_000_000n), asInt: '5' };
    const body = { resourceMetrics: [{ resource: { attributes: [{ key: 'prescient.subject', value: { stringValue: 'client:a' } }, { key: 'prescient.source', value: { stringValue: 'hypervisor' } }] }, scopeMetrics: [{ metrics: [{ name: 'system.memory.usage', sum: { dataPoints: [point] } }] }] }] };
    return { path, type: 'application/json', body: JSON.stringify(body) };
  }
  if (route.path === '/v1/requests') return { path, type: 'application/json', body: '{"clientId":"a"}' };
  return { path, type: 'application/json', body: '{}' };
}

describe('route scopes: every route of `prescient serve`, swept with no, another client\'s, an expired and a forged credential', () => {
  let dir: string;
  let server: ServeProcess;
  let grants: Grants;
  let a: Creds;
  let b: Creds;
  let source: Creds;
  let table: RouteTableEntry[];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'prescient-scope-'));
    const home = join(dir, 'home');
    grants = await Grants.open({ secretsDir: paths(home).secrets });
    a = await grants.credentials.issue('a');
    b = await grants.credentials.issue('b');
    source = await grants.credentials.issueSource('hv', ['vm:host-1']);
    server = await startServe(home);
    table = ((await (await fetch(`${server.base}/v1/routes`)).json()) as { routes: RouteTableEntry[] }).routes;
  });
  after(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const send = async (route: RouteTableEntry, method: string, authorization?: string): Promise<{ status: number; text: string }> => {
    const c = concrete(route, method);
    const headers: Record<string, string> = {};
    if (authorization) headers['authorization'] = authorization;
    if (c.type) headers['content-type'] = c.type;
    const r = await fetch(`${server.base}${c.path}`, { method, headers, ...(c.body !== undefined ? { body: c.body } : {}) });
    return { status: r.status, text: await r.text() };
  };
  const each = async (fn: (route: RouteTableEntry, method: string) => Promise<void>): Promise<void> => {
    for (const route of table) for (const method of route.methods) await fn(route, method);
  };
  /** A refusal says which rule refused it (HEAD answers carry no body). */
  const namesRule = (method: string, text: string): boolean => method === 'HEAD' || /scope:|"rule"|UNAUTHORIZED|DENIED/.test(text);

  test('the table has every route, each with a scope', () => {
    const paths = table.map((r) => r.path);
    for (const p of ['/v1/telemetry', '/v1/metrics', '/v1/token', '/v1/requests', '/v1/usage-vectors', '/v1/clients/:clientId/credentials', '/v1/clients/:clientId/builds', '/v2', '/v2/*', '/healthz', '/metrics', '/v1/routes']) {
      assert.ok(paths.includes(p), `${p} is not in the route table`);
    }
    for (const r of table) assert.ok(['public', 'credential', 'client-own', 'admin', 'telemetry-write', 'registry'].includes(r.scope), `${r.path}: ${r.scope}`);
    assert.equal(table.find((r) => r.path === '/v1/telemetry')?.scope, 'telemetry-write');
  });

  test('no credential: every route but the public ones answers 401 with a challenge', async () => {
    await each(async (route, method) => {
      const r = await send(route, method);
      if (route.scope === 'public') return assert.ok(r.status !== 401 && r.status !== 403 && r.status < 500, `${method} ${route.path} → ${r.status}`);
      assert.equal(r.status, 401, `${method} ${route.path} → ${r.status} ${r.text}`);
      assert.ok(namesRule(method, r.text), `${method} ${route.path}: ${r.text}`);
    });
  });

  test("another client's credential (and its token) reaches nothing of client a", async () => {
    const tokenOfB = grants.grantFor('b').token;
    await each(async (route, method) => {
      if (route.scope === 'public') return;
      const r = await send(route, method, route.scope === 'registry' ? `Bearer ${tokenOfB}` : basicAuth(b));
      if (route.path === '/v1/token') {
        assert.equal(r.status, 200, r.text);
        const token = (JSON.parse(r.text) as { token: string }).token;
        assert.deepEqual(grants.verify(token).access, [], 'b got a scope on clients/a');
        return;
      }
      // The /v2/ base check only says "this token is valid here"; it reveals no repository.
      if (route.path === '/v2') return assert.equal(r.status, 200);
      // The dashboard's overview is the caller's own view: b sees itself, never a.
      if (route.path === '/v1/dashboard/overview') {
        assert.equal(r.status, 200, r.text);
        return assert.deepEqual((JSON.parse(r.text) as { clients: { clientId: string }[] }).clients.filter((c) => c.clientId !== 'b'), []);
      }
      const expected = route.scope === 'registry' ? [401, 403] : [403];
      assert.ok(expected.includes(r.status), `${method} ${route.path} → ${r.status} ${r.text}`);
      assert.ok(namesRule(method, r.text), `${method} ${route.path}: ${r.text}`);
    });
    // The control: a's own credential passes the same scopes.
    const own = await send(table.find((r) => r.path === '/v1/usage-vectors')!, 'GET', basicAuth(a));
    assert.ok(own.status !== 401 && own.status !== 403, `${own.status} ${own.text}`);
  });

  test('an expired token and forged credentials are refused everywhere but the public routes', async () => {
    const past = await Grants.open({ secretsDir: paths(join(dir, 'home')).secrets, ttlSeconds: 60, now: () => new Date(Date.now() - 120_000) });
    const expired = `Bearer ${past.grantFor('a').token}`;
    const admin = grants.tokenFor({ kind: 'admin' }, []).token;
    const [body, sig] = grants.grantFor('a').token.split('.');
    const forgedToken = `Bearer ${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body!, 'base64url').toString()), admin: true })).toString('base64url')}.${sig}`;
    const wrongSecret = basicAuth({ username: 'a', secret: b.secret });
    const adminToken = `Bearer ${admin}`;
    await each(async (route, method) => {
      if (route.scope === 'public') return;
      for (const [what, auth] of [['expired token', expired], ['forged token', forgedToken], ['wrong secret', wrongSecret]] as const) {
        const r = await send(route, method, auth);
        assert.equal(r.status, 401, `${what}: ${method} ${route.path} → ${r.status} ${r.text}`);
        assert.ok(namesRule(method, r.text), `${what}: ${method} ${route.path}: ${r.text}`);
      }
      // Even the admin's token is no credential outside /v2/: tokens never mint tokens or request images.
      if (route.scope !== 'registry') assert.equal((await send(route, method, adminToken)).status, 401, `admin token on ${method} ${route.path}`);
    });
  });

  test('a source credential writes telemetry about its own subjects only and can do nothing else', async () => {
    await each(async (route, method) => {
      if (route.scope === 'public') return;
      const r = await send(route, method, basicAuth(source));
      // Its telemetry here names client:a, which it was not issued for.
      const expected = route.scope === 'registry' ? [401] : [403];
      assert.ok(expected.includes(r.status), `${method} ${route.path} → ${r.status} ${r.text}`);
    });
    const own = await fetch(`${server.base}/v1/telemetry`, {
      method: 'POST',
      headers: { authorization: basicAuth(source), 'content-type': 'application/x-ndjson' },
      body: JSON.stringify({ kind: 'resource', time: Date.UTC(2026, 0, 1), subject: 'vm:host-1', source: 'hypervisor', cpuPercent: 5 }),
    });
    assert.equal(own.status, 200, await own.clone().text());
    assert.equal(((await own.json()) as { accepted: number }).accepted, 1);
  });

  test("a parameter given twice cannot pass the scope check with a's name and reach b's data with the other", async () => {
    const vectorOf = async (query: string, credential: Creds): Promise<Response> => fetch(`${server.base}/v1/usage-vectors?${query}`, { headers: { authorization: basicAuth(credential) } });
    for (const query of ['client=a&client=b', 'client=b&client=a', 'client=a&client=a']) {
      const r = await vectorOf(query, a);
      const text = await r.text();
      assert.equal(r.status, 400, `${query} → ${r.status} ${text}`);
      assert.match(text, /"field":"client"/, text);
    }
    // The control: each alone answers as before.
    assert.equal((await vectorOf('client=a', a)).status, 200);
    assert.equal((await vectorOf('client=b', a)).status, 403);
  });
});
