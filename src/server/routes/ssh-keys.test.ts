import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { run } from '../../core/exec.js';
import { Grants } from '../../grants/grants.js';
import { sshKeyStoreAt } from '../../login/ssh-key-store.js';
import { createApp, listen } from '../app.js';
import { sshKeyRoutes } from './ssh-keys.js';
import { basicAuth } from '../../../test/support/basic-auth.js';

const dir = await mkdtemp(join(tmpdir(), 'prescient-ssh-keys-'));
const grants = await Grants.open({ secretsDir: join(dir, 'secrets') });
const keys = sshKeyStoreAt(dir);
const server = createApp({ routes: [sshKeyRoutes({ keys })], auth: grants.edgeAuth() });
const { port } = await listen(server, 0);
const base = `http://127.0.0.1:${port}`;
after(async () => {
  server.close();
  await rm(dir, { recursive: true, force: true });
});
await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'alice@laptop.example', '-f', join(dir, 'k')]);
const { readFile } = await import('node:fs/promises');
const pub = (await readFile(join(dir, 'k.pub'), 'utf8')).trim();
const acme = await grants.credentials.issue('acme');
const other = await grants.credentials.issue('other');

test('a client registers its own key; the comment (personal data) is dropped; the seed login follows', async () => {
  const r = await fetch(`${base}/v1/clients/acme/ssh-keys`, { method: 'POST', headers: { authorization: basicAuth(acme) }, body: JSON.stringify({ key: pub, user: 'alice' }) });
  assert.equal(r.status, 201);
  const body = (await r.json()) as { user: string; keys: { key: string; fingerprint: string }[] };
  assert.equal(body.user, 'alice');
  assert.equal(body.keys[0]!.key, pub.split(' ').slice(0, 2).join(' '));
  const fp = (await run('ssh-keygen', ['-l', '-f', join(dir, 'k.pub')])).stdout.split(' ')[1];
  assert.equal(body.keys[0]!.fingerprint, fp, 'the fingerprint ssh-keygen -l prints');
  assert.deepEqual(await keys.login('acme'), { user: 'alice', sshAuthorizedKeys: [body.keys[0]!.key] });
  const list = await fetch(`${base}/v1/clients/acme/ssh-keys`, { headers: { authorization: basicAuth(acme) } });
  assert.equal(((await list.json()) as { keys: unknown[] }).keys.length, 1);
});

test('another client, no credential, a private key, bad fields and a bad id are refused, naming the field', async () => {
  const post = (client: string, body: unknown, auth?: string) => fetch(`${base}/v1/clients/${client}/ssh-keys`, { method: 'POST', headers: auth ? { authorization: auth } : {}, body: JSON.stringify(body) });
  assert.equal((await post('acme', { key: pub })).status, 401);
  assert.equal((await post('acme', { key: pub }, basicAuth(other))).status, 403);
  const priv = await post('acme', { key: await readFile(join(dir, 'k'), 'utf8') }, basicAuth(acme));
  assert.equal(priv.status, 400);
  assert.match(((await priv.json()) as { message: string }).message, /private key/);
  const user = await post('acme', { key: pub, user: 'root' }, basicAuth(acme));
  assert.equal(((await user.json()) as { details: { field: string } }).details.field, 'user');
  const extra = await post('acme', { key: pub, shell: '/bin/sh' }, basicAuth(acme));
  assert.equal(extra.status, 400);
  // A misspelt field is named by itself, as every JSON edge names it (firstIssueError).
  assert.deepEqual(((await extra.json()) as { details: { field: string } }).details.field, 'shell');
  const bad = await post('..%2Fetc', { key: pub }, basicAuth(grants.credentials.admin));
  assert.equal(((await bad.json()) as { details: { field: string } }).details.field, 'clientId');
});

test('a key is removed by its fingerprint', async () => {
  const login = await keys.get('acme');
  const fp = encodeURIComponent(login!.keys[0]!.fingerprint);
  const r = await fetch(`${base}/v1/clients/acme/ssh-keys/${fp}`, { method: 'DELETE', headers: { authorization: basicAuth(grants.credentials.admin) } });
  assert.equal(r.status, 200);
  assert.equal(await keys.login('acme'), undefined);
});
