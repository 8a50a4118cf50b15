import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { paths } from '../../core/config.js';
import { Grants } from '../../grants/grants.js';
import { basicAuth } from '../../../test/support/basic-auth.js';
import { debianFacts } from '../../../test/support/debian-facts.js';
import { startServe, type ServeProcess } from '../../../test/support/serve.js';

/**
 * A base whose file is not a disk image: every build attempt fails in qemu-img, whose words name
 * the file's path on this host, and is retried. The client's stream tells it of each retry, and
 * of the failure, by request id only.
 */
describe('the request stream tells a client of a server-side build failure no more than the request id', () => {
  let dir: string;
  let home: string;
  let server: ServeProcess;
  let client: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'prescient-stream-server-side-'));
    home = join(dir, 'home');
    const bases = paths(home).bases;
    await mkdir(bases, { recursive: true });
    const path = join(bases, 'debian-12-0000000000000000.qcow2');
    await writeFile(path, 'not a disk image\n');
    await writeFile(join(bases, 'debian-12-0000000000000000.json'), JSON.stringify({ name: 'debian-12', key: '0000000000000000', path, facts: { ...debianFacts([]), image: path } }));
    const grants = await Grants.open({ secretsDir: paths(home).secrets });
    client = basicAuth(await grants.credentials.issue('a'));
    server = await startServe(home);
  });
  after(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('the retries and the error name no host path', { timeout: 120_000 }, async () => {
    const res = await fetch(`${server.base}/v1/requests`, { method: 'POST', headers: { authorization: client, 'content-type': 'application/json', accept: 'application/x-ndjson' }, body: '{"clientId":"a"}' });
    const text = await res.text();
    const events = text.trim().split('\n').map((l) => JSON.parse(l) as { type: string; state?: string; message?: string });
    assert.ok(events.some((e) => e.type === 'build' && e.state === 'retrying'), text);
    assert.equal(events.at(-1)?.type, 'error', text);
    assert.ok(!text.includes(dir), `the stream names the home: ${text.split('\n').find((l) => l.includes(dir))}`);
    for (const e of events.filter((x) => x.type === 'build' && x.state === 'retrying')) assert.match(e.message ?? '', /internal error \(request [0-9a-f-]+\)/, JSON.stringify(e));
  });
});
