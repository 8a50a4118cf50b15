import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { basicAuth } from '../../test/support/basic-auth.js';
import { cliPath } from '../../test/support/repo.js';
import { startServe } from '../../test/support/serve.js';
import { tempDirs } from '../../test/support/temp-dirs.js';

const dirs = tempDirs('prescient-config-errors-');
const home = await dirs();
const issued = spawnSync(process.execPath, [cliPath, 'credentials', 'issue', 'acme', '--json'], { env: { ...process.env, PRESCIENT_HOME: home }, encoding: 'utf8' });
assert.equal(issued.status, 0, issued.stderr);
const acme = JSON.parse(issued.stdout) as { username: string; secret: string };
const server = await startServe(home);
after(() => server.stop());

test("a broken policy.json of the operator's is a 500 with the request id for the client, and whole in the server's log", async () => {
  for (const content of ['{not json', '{"denyPackages": 5}']) {
    await writeFile(join(home, 'policy.json'), content);
    const r = await fetch(`${server.base}/v1/usage-vectors?client=acme`, { headers: { authorization: basicAuth(acme) } });
    const text = await r.text();
    assert.equal(r.status, 500, text);
    const body = JSON.parse(text) as { error: string; message: string; requestId: string };
    assert.equal(body.error, 'INTERNAL');
    assert.equal(body.message, `internal error (request ${body.requestId})`);
    assert.ok(!text.includes(home) && !text.includes('policy.json'), `no host path in the answer: ${text}`);
    // The log line is written after the answer: wait for it a little.
    const line = () => server.stderr().split('\n').find((l) => l.includes(body.requestId) && l.includes('unexpected error'));
    for (let i = 0; i < 50 && !line(); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(line()?.includes(join(home, 'policy.json')), `the log names the file: ${server.stderr().slice(-2000)}`);
  }
  // Repaired, the next request is answered: the file is read again, nothing was cached broken.
  await writeFile(join(home, 'policy.json'), '{}');
  assert.equal((await fetch(`${server.base}/v1/usage-vectors?client=acme`, { headers: { authorization: basicAuth(acme) } })).status, 200);
});
