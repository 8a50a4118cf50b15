import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { paths } from '../../core/config.js';
import { Grants } from '../../grants/grants.js';
import { basicAuth } from '../../../test/support/basic-auth.js';
import { startServe, type ServeProcess } from '../../../test/support/serve.js';

/**
 * A request that failed on the server's side (here a broken policy.json: its error names the
 * file's path on this host) is answered "internal error (request …)". The dashboard, which the
 * same client may read for its own row, must not tell it more than that answer did; the admin
 * still sees the whole message.
 */
describe('the dashboard tells a client of a server-side failure no more than its answer did', () => {
  let dir: string;
  let home: string;
  let server: ServeProcess;
  let client: string;
  let admin: string;
  /** What the client was answered. */
  let told: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'prescient-dash-server-side-'));
    home = join(dir, 'home');
    const grants = await Grants.open({ secretsDir: paths(home).secrets });
    client = basicAuth(await grants.credentials.issue('a'));
    admin = basicAuth(grants.credentials.admin);
    await writeFile(join(home, 'policy.json'), '{ broken');
    server = await startServe(home);
    const res = await fetch(`${server.base}/v1/requests`, { method: 'POST', headers: { authorization: client, 'content-type': 'application/json' }, body: '{"clientId":"a"}' });
    const text = await res.text();
    assert.equal(res.status, 500, text);
    assert.ok(!text.includes(home), text);
    told = (JSON.parse(text) as { message: string }).message;
    assert.match(told, /^internal error \(request [0-9a-f-]+\)$/);
  });
  after(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const get = async (path: string, authorization: string): Promise<string> => {
    const res = await fetch(`${server.base}${path}`, { headers: { authorization } });
    const text = await res.text();
    assert.equal(res.status, 200, text);
    return text;
  };

  test("the client's overview and page name no host path; the failure is shown as it was answered, with its request id", async () => {
    for (const path of ['/v1/dashboard/overview', '/v1/dashboard/clients/a']) {
      const text = await get(path, client);
      assert.ok(!text.includes(home), `${path} names the home: ${text.slice(0, 600)}`);
      assert.ok(text.includes(told), `${path}: ${text.slice(0, 600)}`);
    }
  });

  test('the admin sees the whole message, naming the broken file', async () => {
    const text = await get('/v1/dashboard/clients/a', admin);
    assert.ok(text.includes(join(home, 'policy.json')), text.slice(0, 600));
  });
});
