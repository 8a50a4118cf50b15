import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { sha256File } from '../core/digest.js';
import { run } from '../core/exec.js';
import { ValidationError } from '../core/errors.js';
import { prescient } from '../../test/support/cli.js';
import { makeImageFromTree, scratchDir } from '../../test/support/images.js';
import { assertSafeImageChain, readQcow2Header } from './image-chain.js';
import { withImageSession } from './open.js';
import { createOverlay } from './qemu-img.js';

/**
 * An image's qcow2 header is untrusted: it must never make a session open a host file (a
 * backing file, an external data file, a json: pseudo-protocol). Each image here is what an
 * attacker would hand over; the CLI must refuse it, say why, and leave the host file as it was.
 */
let work: Awaited<ReturnType<typeof scratchDir>>;
let home: string;
let good: string;
let hostFile: string;

before(async () => {
  work = await scratchDir();
  home = join(work.dir, 'home');
  const tree = join(work.dir, 'tree');
  await mkdir(join(tree, 'etc'), { recursive: true });
  await writeFile(join(tree, 'etc/os-release'), 'ID=crafted\n');
  await writeFile(join(tree, 'etc/motd'), 'inside the image\n');
  good = await makeImageFromTree(tree, join(work.dir, 'good.qcow2'), { table: 'none', format: 'qcow2', sizeMiB: 32 });
  // A host file that happens to hold a whole filesystem: opened as a backing or data file, the
  // session would show it (and, with --write, change it).
  const secrets = join(work.dir, 'host-secrets');
  await mkdir(secrets);
  hostFile = await makeImageFromTree(tree, join(secrets, 'host-disk.raw'), { table: 'none', format: 'raw', sizeMiB: 32 });
});

after(async () => {
  await work.remove();
});

async function refused(args: string[], why: RegExp): Promise<void> {
  const r = await prescient(home, args, 120_000);
  assert.notEqual(r.code, 0, `refused: ${JSON.stringify(r.json)}`);
  assert.match(`${JSON.stringify(r.json)}${r.stderr}`, why);
}

test('image cat on a qcow2 backed by a host file is refused, naming why', async () => {
  const evil = join(work.dir, 'backed-by-host.qcow2');
  await createOverlay(hostFile, evil, { backingFormat: 'raw' });
  const before = await sha256File(hostFile);
  await refused(['image', 'cat', evil, '/etc/motd'], /backed by .*host-disk\.raw, outside this project's layer chain/);
  // A raw file beside the image is no layer either.
  const beside = join(work.dir, 'host-secrets', 'beside.qcow2');
  await createOverlay(hostFile, beside, { backingFormat: 'raw' });
  await refused(['image', 'ls', beside, '/'], /outside this project's layer chain .*not a qcow2 layer beside it/);
  assert.equal(await sha256File(hostFile), before);
});

test('json: and other pseudo-protocols, and a backing file without a format, are refused', async () => {
  const json = join(work.dir, 'json.qcow2');
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-u', '-b', `json:{"driver":"raw","file":{"driver":"file","filename":"${hostFile}"}}`, '-F', 'raw', json, '32M']);
  await refused(['image', 'cat', json, '/etc/motd'], /pseudo-protocol/);
  const nbd = join(work.dir, 'nbd.qcow2');
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-u', '-b', 'nbd:127.0.0.1:10809', '-F', 'raw', nbd, '32M']);
  await refused(['image', 'info', nbd], /pseudo-protocol/);
  const probed = join(work.dir, 'probed.qcow2');
  await copyFile(good, join(work.dir, 'layer.qcow2'));
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', 'layer.qcow2', '-F', 'qcow2', probed]);
  // qemu-img no longer writes such a header; an attacker's does: blank the backing-format extension's type.
  const header = await readFile(probed);
  const at = header.subarray(0, 4096).indexOf(Buffer.from([0xe2, 0x79, 0x2a, 0xca]));
  assert.ok(at > 0);
  header.writeUInt32BE(0x12345678, at);
  await writeFile(probed, header);
  assert.equal((await readQcow2Header(probed))?.backingFormat, undefined);
  await refused(['image', 'cat', probed, '/etc/motd'], /without a format \(QEMU would probe it\)/);
});

test('image exec --write on a qcow2 whose data file is a host file is refused, and the host file is unchanged', async () => {
  const evil = join(work.dir, 'data-file.qcow2');
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', `data_file=${hostFile},data_file_raw=on`, evil, '32M']);
  assert.equal((await readQcow2Header(evil))?.externalData, true);
  const before = await sha256File(hostFile);
  await refused(['image', 'exec', '--write', evil, '--', 'sh', '-c', 'echo changed > /etc/motd'], /external data file/);
  await refused(['image', 'cat', evil, '/etc/motd'], /external data file/);
  assert.equal(await sha256File(hostFile), before);
});

test("the project's own chains open: an overlay on a qcow2 layer beside it (a checkout), and one the caller vouches for", async () => {
  const checkout = join(work.dir, 'checkout');
  await mkdir(checkout);
  await copyFile(good, join(checkout, '00-base.qcow2'));
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', '00-base.qcow2', '-F', 'qcow2', join(checkout, '01-top.qcow2')]);
  const r = await prescient(home, ['image', 'cat', join(checkout, '01-top.qcow2'), '/etc/motd'], 120_000);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.json.content, 'inside the image\n');
  // Elsewhere, a built chain is accepted only when the caller names its files.
  const elsewhere = join(work.dir, 'host-secrets', 'vouched.qcow2');
  await createOverlay(good, elsewhere, { backingFormat: 'qcow2' });
  await assert.rejects(assertSafeImageChain(elsewhere, { trustedDirs: [] }), ValidationError);
  assert.equal((await assertSafeImageChain(elsewhere, { trustedDirs: [], trustedFiles: [good] })).length, 2);
  await withImageSession(elsewhere, { runtimeDir: join(home, 'run'), readOnly: true, trustedFiles: [good] }, async (s) => {
    assert.equal((await s.readFile('/etc/motd')).toString(), 'inside the image\n');
  });
  // base import takes standalone images only, through the same check.
  const imported = await prescient(home, ['base', 'import', elsewhere], 120_000);
  assert.notEqual(imported.code, 0);
  assert.match(JSON.stringify(imported.json) + imported.stderr, /<file>: .*has a backing file/);
});

test('a qcow2 header whose offsets point past the end of the file (or past 2^53) is refused as bad input, not a crash', async () => {
  const cases: [string, (h: Buffer) => void][] = [
    ['backing name at 2^60', (h) => (h.writeBigUInt64BE(2n ** 60n, 8), h.writeUInt32BE(10, 16))],
    ['backing name past the end', (h) => (h.writeBigUInt64BE(BigInt(h.length - 4), 8), h.writeUInt32BE(64, 16))],
  ];
  for (const [what, craft] of cases) {
    const file = join(work.dir, `${what.replace(/\W+/g, '-')}.qcow2`);
    const header = await readFile(good);
    craft(header);
    await writeFile(file, header);
    const r = await prescient(home, ['image', 'info', file], 120_000);
    assert.equal(r.code, 2, `${what}: a usage error (exit 2), not a bug: ${r.stderr}`);
    assert.match(r.stderr, /past the end of the file/, what);
  }
});
