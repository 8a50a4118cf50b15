import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { prescient } from '../../../test/support/cli.js';
import { repoPath } from '../../../test/support/repo.js';

let dir: string;
let home: string;
let server: ReturnType<typeof createServer>;
let url: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'prescient-datasets-cli-'));
  home = join(dir, 'home');
  await mkdir(join(home, 'secrets'), { recursive: true });
  await writeFile(join(dir, 'prices.csv'), 'sku,price\n1,9.99\n');
  await mkdir(join(dir, 'fixtures'));
  // A local web server for URL sources: a small file, and one larger than its cap (streamed, no length).
  server = createServer((req, res) => {
    if (req.url === '/small.csv') res.end('a,b\n1,2\n');
    else if (req.url === '/big.bin') {
      res.write(Buffer.alloc(4096));
      res.end(Buffer.alloc(4096));
    } else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

test('datasets add|ls|rm: files, folders and URLs (fetched once, capped), never the home; errors name the field', async () => {
  const file = await prescient(home, ['datasets', 'add', 'prices', join(dir, 'prices.csv'), '--max-size', '1KiB']);
  assert.equal(file.code, 0, file.stderr);
  assert.deepEqual(file.json, { name: 'prices', kind: 'file', path: join(dir, 'prices.csv'), maxBytes: 1024 });
  assert.equal((await prescient(home, ['datasets', 'add', 'fixtures', `file://${join(dir, 'fixtures')}`, '--max-size', '2MB', '--destination', '/srv/app/fixtures'])).json.kind, 'folder');

  const remote = await prescient(home, ['datasets', 'add', 'small', `${url}/small.csv`, '--max-size', '100']);
  assert.equal(remote.code, 0, remote.stderr);
  assert.equal(remote.json.url, `${url}/small.csv`);
  assert.equal(await readFile(remote.json.path, 'utf8'), 'a,b\n1,2\n');
  assert.equal((await stat(remote.json.path)).mode & 0o777, 0o600);

  const refused = async (args: string[], field: string, message: RegExp): Promise<void> => {
    const r = await prescient(home, ['datasets', 'add', ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.json.details.field, field, r.stderr);
    assert.match(r.json.message, message);
  };
  await refused(['big', `${url}/big.bin`, '--max-size', '5000'], '--max-size', /sends more than the cap of 5000 bytes/);
  await refused(['secrets', join(home, 'secrets'), '--max-size', '1'], 'source', /holds the Prescient home|is or holds the Prescient home/);
  await refused(['everything', '/', '--max-size', '1'], 'source', /is or holds the Prescient home/);
  await refused(['relative', 'secrets/admin.secret', '--max-size', '1'], 'source', /an absolute path/);
  await refused(['Bad/Name', join(dir, 'prices.csv'), '--max-size', '1'], 'name', /one path component/);
  await refused(['x', join(dir, 'prices.csv'), '--max-size', 'lots'], '--max-size', /a positive size/);
  await refused(['x', join(dir, 'prices.csv'), '--max-size', '1', '--destination', '../etc'], 'datasets[3].destination', /guest path/);
  assert.equal((await prescient(home, ['datasets', 'add', 'prices', join(dir, 'prices.csv'), '--max-size', '1'])).code, 1, 'a second entry of one name needs --replace');

  const ls = await prescient(home, ['datasets', 'ls']);
  assert.deepEqual(ls.json.map((d: { name: string }) => d.name), ['prices', 'fixtures', 'small']);
  assert.equal((await prescient(home, ['datasets', 'rm', 'small'])).code, 0);
  await assert.rejects(stat(remote.json.path), 'the fetched copy goes with its entry');
  assert.equal((await prescient(home, ['datasets', 'rm', 'small'])).code, 3);
  assert.equal((await stat(join(home, 'policy.json'))).mode & 0o777, 0o600);
});

test('policy show|add|rm|check: the safe default, edits validated before they are written, a vector checked field by field', async () => {
  const fresh = join(dir, 'fresh');
  assert.deepEqual((await prescient(fresh, ['policy', 'show'])).json, { datasets: [], packages: { deny: [] }, inbound: { allow: [] }, outbound: { allow: [] }, bases: { allow: ['debian-12'] } });
  assert.deepEqual((await prescient(fresh, ['policy', 'add', 'inbound', '8080', '53/udp'])).json.inbound.allow, [{ port: 8080, protocol: 'tcp' }, { port: 53, protocol: 'udp' }]);
  assert.deepEqual((await prescient(fresh, ['policy', 'add', 'outbound', 'deb.debian.org:443', '10.0.0.0/8', '[2001:db8::1]:80'])).json.outbound.allow, [{ host: 'deb.debian.org', port: 443 }, { host: '10.0.0.0/8' }, { host: '2001:db8::1', port: 80 }]);
  assert.deepEqual((await prescient(fresh, ['policy', 'add', 'deny-packages', 'telnetd'])).json.packages.deny, ['telnetd']);
  assert.deepEqual((await prescient(fresh, ['policy', 'rm', 'inbound', '8080/tcp'])).json.inbound.allow, [{ port: 53, protocol: 'udp' }]);
  const bad = await prescient(fresh, ['policy', 'add', 'bases', 'Hostile!']);
  assert.equal(bad.code, 2);
  assert.equal(bad.json.details.field, 'bases.allow[1]');
  assert.deepEqual((await prescient(fresh, ['policy', 'show'])).json.bases.allow, ['debian-12'], 'a refused edit writes nothing');
  assert.equal((await prescient(fresh, ['policy', 'add', 'ports', '1'])).json.details.field, 'list');

  const vector = JSON.parse(await readFile(repoPath('examples/vectors/web-db.json'), 'utf8')) as { datasets: { source: string }[] };
  vector.datasets.push({ ...vector.datasets[0]!, source: '/etc/shadow' });
  await writeFile(join(dir, 'vector.json'), JSON.stringify(vector));
  const checked = await prescient(fresh, ['policy', 'check', join(dir, 'vector.json')]);
  assert.equal(checked.code, 2);
  assert.deepEqual(checked.json.violations.map((v: { field: string }) => v.field), ['datasets[0].source', 'datasets[1].source']);
});
