import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { paths } from '../src/core/config.js';
import { hasCommand } from '../src/core/exec.js';
import { Grants } from '../src/grants/grants.js';
import { openRegistry } from '../src/registry/registry.js';
import { prescient } from './support/cli.js';
import { repoRoot } from './support/repo.js';
import { quickstartClients, quickstartHome } from './support/quickstart-home.js';
import { startServe, type ServeProcess } from './support/serve.js';
import { basicAuth } from './support/basic-auth.js';
import { requestImage } from './support/request-image.js';

const chromiumPath = '/usr/bin/chromium';
const skip = !(await hasCommand('chromium')) && 'Debian\'s chromium is needed (scripts/debian-packages.txt)';
/** The flags the environment notes give: nothing reaches another host, nothing is downloaded. */
const chromiumArgs = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync'];
const shots = join(repoRoot, 'test-output', 'dashboard');

/**
 * Every console error and failed request of a page, except the 403s a step expects (a client
 * credential opening another client's page must get them, and Chromium logs each as an error).
 */
function watch(page: Page): { problems: string[]; expect403: (urlPart: string) => void } {
  const problems: string[] = [];
  const allowed: string[] = [];
  const isAllowed = (url: string): boolean => allowed.some((a) => url.includes(a));
  page.on('console', (m) => {
    if (m.type() === 'error' && !(m.text().includes('403') && isAllowed(m.location().url))) problems.push(`console: ${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  // ERR_ABORTED is the page itself cancelling a fetch it no longer needs (it aborts loads when the view changes), not a failure.
  page.on('requestfailed', (r) => {
    if (r.failure()?.errorText !== 'net::ERR_ABORTED') problems.push(`request failed: ${r.method()} ${r.url()} ${r.failure()?.errorText ?? ''}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400 && !(r.status() === 403 && isAllowed(r.url()))) problems.push(`HTTP ${r.status()}: ${r.request().method()} ${r.url()}`);
  });
  return { problems, expect403: (urlPart) => void allowed.push(urlPart) };
}

async function newContext(viewport = { width: 1280, height: 800 }): Promise<{ context: BrowserContext; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'prescient-chromium-'));
  const context = await chromium.launchPersistentContext(dir, { executablePath: chromiumPath, headless: true, args: chromiumArgs, viewport });
  return { context, dir };
}

async function login(page: Page, base: string, username: string, secret: string): Promise<void> {
  await page.goto(`${base}/ui/`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Secret').fill(secret);
  await page.getByRole('button', { name: 'Log in' }).click();
}

/**
 * The dashboard in Debian's Chromium against the real `prescient serve` over the quickstart's
 * data (synthetic telemetry of four made-up clients, trained, prepared): what an admin and a
 * client see, a rollback from the page checked through the OCI registry API, and a client
 * credential refused (403) on another client's page and on every call that page makes.
 */
describe('dashboard in Chromium against prescient serve with the quickstart data', { skip, timeout: 40 * 60_000 }, () => {
  let home: string;
  let remove: () => Promise<void>;
  let server: ServeProcess;
  let admin: string;
  let webshop: { username: string; secret: string };
  const contexts: { context: BrowserContext; dir: string }[] = [];

  before(async () => {
    ({ home, remove } = await quickstartHome());
    const grants = await Grants.open({ secretsDir: paths(home).secrets });
    admin = grants.credentials.admin.secret;
    webshop = await grants.credentials.issue('webshop');
    server = await startServe(home);
    // The quickstart's request: webshop asks with its own credential and gets the prebuilt image.
    assert.equal((await requestImage(server, basicAuth(webshop), { account: 'ops@webshop.example' })).source, 'prebuilt');
    // A second version of webshop, as a newer prediction would make it (one more package), so there is a diff and a rollback.
    const predicted = await prescient(home, ['predict', '--client', 'webshop']);
    assert.equal(predicted.code, 0, predicted.stderr);
    const vector = predicted.json as { subject: unknown; software: unknown[] };
    vector.subject = { clientId: 'webshop', category: 'web' };
    vector.software.push({ name: 'htop', probability: 0.72, programs: ['htop'] });
    await writeFile(join(home, 'webshop-v2.json'), JSON.stringify(vector));
    const v2 = await prescient(home, ['personalize', '--base', 'debian-12', '--vector', join(home, 'webshop-v2.json'), '--out', join(home, 'webshop-v2'), '--register', 'clients/webshop'], 30 * 60_000);
    assert.equal(v2.code, 0, v2.stderr);
    await mkdir(shots, { recursive: true });
  });
  after(async () => {
    for (const c of contexts) {
      await c.context.close().catch(() => undefined);
      await rm(c.dir, { recursive: true, force: true });
    }
    await server?.stop();
    await remove?.();
  });

  test('the admin logs in, sees the four clients and how each was last answered, the webshop page with its chart, versions and a diff, and rolls back', async () => {
    const c = await newContext();
    contexts.push(c);
    const page = c.context.pages()[0] ?? (await c.context.newPage());
    const { problems } = watch(page);
    await login(page, server.base, 'admin', admin);

    // Overview: every quickstart client, with how it was last answered.
    await page.getByRole('heading', { name: 'Clients', exact: true }).waitFor();
    for (const id of quickstartClients) {
      const row = page.locator(`tr[data-client="${id}"]`);
      await row.waitFor();
      assert.match(await row.locator('td.answer').innerText(), /prebuilt|built|joined|last-good/, `${id}'s answer`);
    }
    assert.match(await page.locator('tr[data-client="webshop"] td.answer').innerText(), /^prebuilt/);
    assert.equal(await page.locator('tbody tr[data-client]').count(), 4);
    await page.screenshot({ path: join(shots, 'overview.png'), fullPage: true });

    // The webshop page: usage chart with forecast and allocation, the versions, a diff.
    await page.getByRole('link', { name: 'webshop', exact: true }).click();
    await page.getByRole('heading', { name: 'webshop', level: 1 }).waitFor();
    const cpu = page.getByRole('group', { name: 'CPU (cores)' });
    await cpu.locator('canvas').first().waitFor();
    const legend = await cpu.locator('.u-legend').innerText();
    for (const series of ['used (mean)', 'forecast p95', 'allocated vCPUs']) assert.ok(legend.includes(series), `legend has ${series}: ${legend}`);
    assert.match((await cpu.getByRole('img').getAttribute('aria-label'))!, /forecast p95 \d/);
    const lineage = page.getByRole('list', { name: /Version lineage/ });
    assert.equal(await lineage.locator(':scope > li').count(), 2);
    assert.match(await lineage.locator('li[data-version="2"]').innerText(), /latest/);
    const diff = page.getByRole('table', { name: /Changes from v1 to v2/ });
    await diff.waitFor();
    const diffText = await diff.innerText();
    assert.match(diffText, /package htop/);
    assert.match(diffText, /72 %/, 'the probability behind the added package');
    await page.screenshot({ path: join(shots, 'client-webshop.png'), fullPage: true });

    // Rollback from the page, confirmed; then ask the registry (the OCI API), not the page.
    await page.getByRole('button', { name: 'Roll back to v1' }).click();
    const dialog = page.getByRole('dialog', { name: 'Roll back webshop?' });
    await dialog.waitFor();
    await page.screenshot({ path: join(shots, 'client-webshop-rollback-confirm.png') });
    await dialog.getByRole('button', { name: 'Move latest to v1' }).click();
    await page.getByText('latest now names v1.').waitFor();
    const registry = await openRegistry({ root: paths(home).registry });
    const v1 = (await registry.versions('clients/webshop')).find((v) => v.version === 1)!;
    const token = (await (await fetch(`${server.base}/v1/token?service=prescient&scope=repository:clients/webshop:pull`, { headers: { authorization: basicAuth(webshop) } })).json()) as { token: string };
    const head = await fetch(`${server.base}/v2/clients/webshop/manifests/latest`, { method: 'HEAD', headers: { authorization: `Bearer ${token.token}`, accept: 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('docker-content-digest'), v1.digest, 'latest names v1 in the registry');

    // Models: the backtest tables.
    await page.getByRole('link', { name: 'Models' }).click();
    await page.getByRole('heading', { name: 'Models', level: 1 }).waitFor();
    await page.getByRole('heading', { name: /^web / }).waitFor();
    await page.screenshot({ path: join(shots, 'models.png'), fullPage: true });
    assert.deepEqual(problems, []);
  });

  test('a client credential sees only its own client, and gets 403 on another client\'s page and on every call that page makes', async () => {
    const c = await newContext({ width: 390, height: 844 });
    contexts.push(c);
    const page = c.context.pages()[0] ?? (await c.context.newPage());
    const { problems, expect403 } = watch(page);
    await login(page, server.base, 'webshop', webshop.secret);
    await page.getByRole('heading', { name: 'Clients', exact: true }).waitFor();
    await page.locator('tr[data-client="webshop"]').waitFor();
    assert.equal(await page.locator('tbody tr[data-client]').count(), 1, 'only its own client');
    await page.screenshot({ path: join(shots, 'client-credential-overview-narrow.png'), fullPage: true });
    await page.getByRole('link', { name: 'webshop', exact: true }).first().click();
    await page.getByRole('heading', { name: 'webshop', level: 1 }).waitFor();
    assert.equal(await page.getByRole('group', { name: 'Admin actions' }).count(), 0, 'no admin actions for a client');
    await page.screenshot({ path: join(shots, 'client-credential-webshop-narrow.png'), fullPage: true });

    // Another client's page: the server refuses the page itself, and the app says so.
    expect403('/ui/clients/ledger');
    expect403('/v1/dashboard/');
    expect403('/v1/clients/ledger/');
    const nav = await page.goto(`${server.base}/ui/clients/ledger`);
    assert.equal(nav?.status(), 403);
    await page.getByRole('heading', { name: 'Forbidden (403)' }).waitFor();
    // …and every API call a client page makes, with the session cookie of this browser.
    const statuses = await page.evaluate(async () => {
      const calls: [string, string][] = [
        ['GET', '/v1/dashboard/clients/ledger'],
        ['GET', '/v1/dashboard/clients/ledger/diff?from=1&to=1'],
        ['GET', '/v1/dashboard/models'],
        ['POST', '/v1/clients/ledger/rollback'],
        ['DELETE', '/v1/clients/ledger/builds'],
      ];
      return Promise.all(calls.map(async ([method, path]) => [path, (await fetch(path, { method, headers: { 'content-type': 'application/json' }, ...(method === 'POST' ? { body: '{}' } : {}) })).status] as const));
    });
    for (const [path, status] of statuses) assert.equal(status, 403, path);
    // The fleet view of a client is its own: the overview API lists only webshop.
    const overview = await page.evaluate(async () => (await (await fetch('/v1/dashboard/overview')).json()) as { clients: { clientId: string }[] });
    assert.deepEqual(overview.clients.map((x) => x.clientId), ['webshop']);
    await page.screenshot({ path: join(shots, 'client-credential-forbidden.png') });
    assert.deepEqual(problems, []);
  });

  test('the session cookie is HttpOnly, SameSite=Strict and expires; without it the API answers 401', async () => {
    const res = await fetch(`${server.base}/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', secret: admin }) });
    assert.equal(res.status, 200);
    const cookie = res.headers.get('set-cookie')!;
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    assert.match(cookie, /Max-Age=\d+/);
    assert.equal((await fetch(`${server.base}/v1/dashboard/overview`)).status, 401);
    assert.equal((await fetch(`${server.base}/v1/dashboard/overview`, { headers: { cookie: cookie.split(';')[0]! } })).status, 200);
    assert.equal((await fetch(`${server.base}/v1/dashboard/overview`, { headers: { cookie: 'prescient_session=forged.token' } })).status, 401);
    const wrong = await fetch(`${server.base}/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', secret: 'nope' }) });
    assert.equal(wrong.status, 401);
    const bad = await fetch(`${server.base}/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', secret: 'x', extra: 1 }) });
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /extra/);
    // A session is no pull grant: the registry refuses it as a bearer token.
    const asBearer = await fetch(`${server.base}/v2/clients/webshop/manifests/latest`, { headers: { authorization: `Bearer ${cookie.split(';')[0]!.split('=')[1]}` } });
    assert.equal(asBearer.status, 401);
    // A state-changing call with the cookie from another site's page is refused.
    const crossSite = await fetch(`${server.base}/v1/clients/webshop/rollback`, { method: 'POST', headers: { cookie: cookie.split(';')[0]!, origin: 'http://evil.example', 'content-type': 'application/json' }, body: '{}' });
    assert.equal(crossSite.status, 403);
  });
});
