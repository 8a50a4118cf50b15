import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hasCommand, run } from '../../core/exec.js';
import { Grants } from '../../grants/grants.js';
import { paths } from '../../core/config.js';
import { prescient } from '../../../test/support/cli.js';
import { startServe, type ServeProcess } from '../../../test/support/serve.js';
import { basicAuth } from '../../../test/support/basic-auth.js';

const skip = !(await hasCommand('openssl')) && 'openssl is needed to make a throwaway certificate';

/** GET over HTTPS trusting only `ca`: the status and body, or the TLS error. */
function get(url: string, ca: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('serve --tls-cert/--tls-key: the API over real HTTPS on 127.0.0.1', { skip }, () => {
  let dir: string;
  let home: string;
  let ca: Buffer;
  let server: ServeProcess;
  let admin: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'prescient-tls-'));
    home = join(dir, 'home');
    // A throwaway self-signed certificate for 127.0.0.1, as an operator would make with openssl (or get from their CA).
    await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
    ca = await readFile(join(dir, 'cert.pem'));
    await Grants.open({ secretsDir: paths(home).secrets });
    admin = basicAuth({ username: 'admin', secret: (await readFile(join(paths(home).secrets, 'admin.secret'), 'utf8')).trim() });
    server = await startServe(home, ['--tls-cert', join(dir, 'cert.pem'), '--tls-key', join(dir, 'key.pem')]);
  });
  after(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('it listens on https://, answers with the certificate given, and its token realm is https', async () => {
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const health = await get(`${server.url}/healthz`, ca);
    assert.equal(health.status, 200);
    assert.deepEqual(JSON.parse(health.body), { status: 'ok' });
    // Credentials cross it encrypted: the challenge names the HTTPS realm.
    const challenge = await new Promise<string>((resolve, reject) => {
      const req = request(`${server.url}/v2/`, { ca }, (res) => {
        res.resume();
        resolve(String(res.headers['www-authenticate'] ?? ''));
      });
      req.on('error', reject);
      req.end();
    });
    assert.match(challenge, /realm="https:\/\/127\.0\.0\.1:\d+\/v1\/token"/);
    const token = await get(`${server.url}/v1/token?service=prescient&scope=repository:clients/acme:pull`, ca, { authorization: admin });
    assert.equal(token.status, 200, token.body);
  });

  test("the dashboard's session cookie set over HTTPS is Secure: a browser never sends it to the same host over plain HTTP, on any port", async () => {
    const secret = (await readFile(join(paths(home).secrets, 'admin.secret'), 'utf8')).trim();
    const cookie = await new Promise<string>((resolve, reject) => {
      const req = request(`${server.url}/v1/session`, { ca, method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
        res.resume();
        resolve(String(res.headers['set-cookie'] ?? ''));
      });
      req.on('error', reject);
      req.end(JSON.stringify({ username: 'admin', secret }));
    });
    assert.match(cookie, /^prescient_session=[^;]+;/, cookie);
    assert.match(cookie, /; Secure(;|$)/, cookie);
    assert.match(cookie, /; HttpOnly(;|$)/, cookie);
  });

  test('a client that does not trust the certificate is refused by TLS; plain HTTP gets no API', async () => {
    await assert.rejects(get(`${server.url}/healthz`, Buffer.from('')), /self-signed|certificate|unable to verify/i);
    const plain = await fetch(server.url.replace('https:', 'http:') + '/healthz').then(
      (r) => r.status,
      () => 'refused',
    );
    assert.notEqual(plain, 200);
  });

  test('a certificate without its key, or a file that is no PEM, is refused at start naming the flag', async () => {
    const half = await prescient(home, ['serve', '--port', '0', '--tls-cert', join(dir, 'cert.pem')], 30_000);
    assert.equal(half.code, 2, half.stderr);
    assert.match(half.stderr, /--tls-key/);
    await writeFile(join(dir, 'not.pem'), 'hello');
    const bad = await prescient(home, ['serve', '--port', '0', '--tls-cert', join(dir, 'not.pem'), '--tls-key', join(dir, 'key.pem')], 30_000);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /--tls-cert.*not a PEM/);
  });
});
