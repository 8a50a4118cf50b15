import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { run } from '../core/exec.js';
import { NotFoundError, UnsafePathError } from '../core/errors.js';
import { sha256File } from '../core/digest.js';
import { makeImageFromTree, scratchDir, type TableKind } from '../../test/support/images.js';
import { isMountBackendUsable, openImage, withImageSession } from './open.js';
import { createOverlay, info } from './qemu-img.js';
import type { BackendName, ImageSession } from './session.js';
import { readOsRelease } from './facts.js';

/**
 * Real images with hostile symlinks: every trick must land inside the image and leave the host
 * untouched. The canary is a real host folder that the image's links point at.
 */
let work: { dir: string; remove: () => Promise<void> };
let canary: string;
let runtimeDir: string;
const images: Record<string, string> = {};

async function digestTree(dir: string): Promise<string> {
  const h = createHash('sha256');
  const walk = async (d: string): Promise<void> => {
    for (const e of (await readdir(d, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      h.update(`${d}/${e.name}\n`);
      if (e.isDirectory()) await walk(join(d, e.name));
      else if (e.isFile()) h.update(await readFile(join(d, e.name)));
    }
  };
  await walk(dir);
  for (const f of ['/etc/passwd', '/etc/hostname', '/etc/hosts']) h.update(await readFile(f).catch(() => Buffer.from('-')));
  return h.digest('hex');
}

before(async () => {
  work = await scratchDir();
  runtimeDir = join(work.dir, 'run');
  canary = join(work.dir, 'canary');
  await mkdir(canary);
  await writeFile(join(canary, 'secret'), 'host secret\n');
  const tree = join(work.dir, 'tree');
  await mkdir(join(tree, 'usr/lib'), { recursive: true });
  await mkdir(join(tree, 'data'));
  await writeFile(join(tree, 'os-release'), 'ID=crafted\nPRETTY_NAME="Crafted hostile image"\n');
  await writeFile(join(tree, 'usr/lib/os-release'), 'ID=crafted\n');
  await symlink('/', join(tree, 'etc')); // /etc -> /
  await symlink(canary, join(tree, 'abs')); // absolute, naming a real host folder
  await symlink(`../../../../../../../..${canary}`, join(tree, 'up')); // ../../.. climbing
  await symlink('chain2', join(tree, 'chain1'));
  await symlink('/chain3', join(tree, 'chain2'));
  await symlink(`../../..${canary}`, join(tree, 'chain3')); // a chain ending in a climb
  await symlink('/loop', join(tree, 'loop'));
  await run('mknod', [join(tree, 'devnull'), 'c', '1', '3']);
  await run('mkfifo', [join(tree, 'fifo')]);
  for (const [table, format] of [['gpt', 'qcow2'], ['dos', 'raw'], ['none', 'qcow2']] as [TableKind, 'qcow2' | 'raw'][]) {
    images[table] = await makeImageFromTree(tree, join(work.dir, `crafted-${table}.${format}`), { table, format });
  }
});

after(async () => {
  await work.remove();
});

async function hostileWrites(s: ImageSession): Promise<void> {
  const via = ['/etc', '/abs', '/up', '/chain1'];
  for (const [i, prefix] of via.entries()) {
    // Each of these names the canary on a naive host-side resolution.
    const target = prefix === '/etc' || prefix === '/chain1' ? `${prefix}${canary}` : prefix;
    await s.mkdir(target, { parents: true });
    await s.writeFile(`${target}/pwned-${i}`, 'written by a session\n');
    await s.writeFile(`${target}/secret`, 'overwritten?\n');
    await s.chmod(`${target}/secret`, 0o777);
    await s.chown(`${target}/secret`, 1234, 1234);
    await s.symlink('/etc/shadow', `${target}/link-${i}`);
    await s.mkdir(`${target}/dir-${i}`);
    const host = join(work.dir, 'copy-src');
    await mkdir(join(host, 'sub'), { recursive: true });
    await writeFile(join(host, 'sub/file'), 'copied\n');
    await s.copyIn(host, `${target}/copied-${i}`);
    await s.remove(`${target}/dir-${i}`);
  }
  await s.writeFile('/etc/hostname', 'guest-hostname\n');
}

function suite(backend: BackendName): void {
  test(`${backend}: hostile symlinks never reach the host (digests of the canary and host files unchanged)`, async () => {
    const before = await digestTree(canary);
    const image = join(work.dir, `hostile-${backend}.qcow2`); // each backend starts from the pristine image
    await createOverlay(images.gpt!, image);
    await withImageSession(image, { backend, runtimeDir }, async (s) => {
      // Reading through the links finds the guest's files, never the host's secret.
      await assert.rejects(s.readFile(`/abs/secret`), NotFoundError);
      await hostileWrites(s);
      assert.equal((await s.readFile('/abs/secret')).toString(), 'overwritten?\n');
      assert.equal((await s.readFile('/hostname')).toString(), 'guest-hostname\n', '/etc -> / lands on the guest root');
      assert.equal((await s.stat(`${canary}/pwned-0`))?.type, 'file', 'the write landed inside the image');
      await assert.rejects(s.readFile('/loop/x'), UnsafePathError);
      await assert.rejects(s.readFile('/devnull'), UnsafePathError);
      await assert.rejects(s.readFile('/fifo'), UnsafePathError);
      // A checksum opens the file the same guarded way (the data module verifies copies with it).
      await assert.rejects(s.sha256('/devnull'), UnsafePathError);
      await assert.rejects(s.sha256('/fifo'), UnsafePathError);
    });
    assert.equal(await digestTree(canary), before);
  });
}

describe('mount backend', { skip: !(await isMountBackendUsable()) && 'needs root, FUSE and loop devices' }, () => {
  suite('mount');

  for (const table of ['gpt', 'dos', 'none'] as const) {
    test(`finds the root filesystem of a ${table === 'none' ? 'bare filesystem' : `${table} disk`} by its os-release`, async () => {
      await withImageSession(images[table]!, { backend: 'mount', runtimeDir, readOnly: true }, async (s) => {
        const layout = await s.diskLayout();
        assert.equal(layout.table, table);
        assert.equal(layout.rootPartition, table === 'none' ? 0 : 2);
        assert.equal((await readOsRelease(s)).ID, 'crafted');
        assert.deepEqual((await s.list('/data')).length, 0);
      });
    });
  }

  test('writing through an overlay leaves the base byte-for-byte unchanged; the overlay holds only the delta', async () => {
    const base = images.none!;
    const baseDigest = await sha256File(base);
    const overlay = join(work.dir, 'overlay.qcow2');
    await createOverlay(base, overlay);
    await withImageSession(overlay, { backend: 'mount', runtimeDir }, async (s) => {
      for (let i = 0; i < 50; i++) await s.writeFile(`/data/f${i}`, `file ${i}\n`);
    });
    assert.equal(await sha256File(base), baseDigest);
    const o = await info(overlay);
    assert.equal(o.backingFile, base);
    assert.ok(o.actualSize < 4 * 1024 * 1024, `overlay holds ${o.actualSize} bytes`);
    await withImageSession(overlay, { backend: 'mount', runtimeDir, readOnly: true }, async (s) => {
      assert.equal((await s.readFile('/data/f7')).toString(), 'file 7\n');
    });
    await withImageSession(base, { backend: 'mount', runtimeDir, readOnly: true }, async (s) => {
      assert.equal(await s.stat('/data/f7'), undefined);
    });
  });

  test('SIGKILL in the middle of a session: the base is unchanged and the next start cleans up', async () => {
    const base = images.gpt!;
    const baseDigest = await sha256File(base);
    const overlay = join(work.dir, 'killed.qcow2');
    await createOverlay(base, overlay);
    const killedRuntime = join(work.dir, 'killed-run');
    const child = spawn(process.execPath, [join(import.meta.dirname, '../../test/support/hold-session.js'), overlay, killedRuntime], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (c: Buffer) => c.toString().includes('ready') && resolve());
      child.on('exit', (code) => reject(new Error(`victim exited early (${code})`)));
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('close', r));
    const mountsBefore = (await readFile('/proc/self/mounts', 'utf8')).split('\n').filter((l) => l.includes(killedRuntime));
    assert.ok(mountsBefore.length >= 1, 'the victim had the image mounted');
    // The next start: opening any image with that runtime folder tears the leftovers down.
    await withImageSession(images.none!, { backend: 'mount', runtimeDir: killedRuntime, readOnly: true }, async () => undefined);
    const mountsAfter = (await readFile('/proc/self/mounts', 'utf8')).split('\n').filter((l) => l.includes(killedRuntime));
    assert.deepEqual(mountsAfter, []);
    assert.deepEqual(await readdir(join(killedRuntime, 'sessions')), []);
    const daemons = await run('pgrep', ['-f', `qemu-storage-daemon.*${overlay}`], { allowFailure: true });
    assert.equal(daemons.stdout.trim(), '', 'no qemu-storage-daemon left');
    assert.equal(await sha256File(base), baseDigest);
    // The overlay is still a valid image that opens.
    await withImageSession(overlay, { backend: 'mount', runtimeDir, readOnly: true }, async (s) => {
      assert.equal((await readOsRelease(s)).ID, 'crafted');
    });
  });

  test('a session closes (and detaches) when the work inside throws', async () => {
    await assert.rejects(
      withImageSession(images.none!, { backend: 'mount', runtimeDir }, async () => {
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.deepEqual(await readdir(join(runtimeDir, 'sessions')), []);
    const s = await openImage(images.none!, { backend: 'mount', runtimeDir, readOnly: true });
    await s.close();
    await s.close(); // twice is fine
  });
});

describe('guestfs backend (slow: one appliance launch)', { skip: process.env.PRESCIENT_SKIP_GUESTFS === '1' && 'PRESCIENT_SKIP_GUESTFS=1' }, () => {
  suite('guestfs');
});
