import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { debianBase, scratchDir, testPaths } from '../../test/support/images.js';
import { isMountBackendUsable, openImage, withImageSession } from './open.js';
import { createOverlay } from './qemu-img.js';

const skip = !(await isMountBackendUsable()) && 'needs the mount backend (root, loop devices, FUSE)';
let work: Awaited<ReturnType<typeof scratchDir>>;
before(async () => {
  if (!skip) work = await scratchDir();
});
after(async () => {
  await work?.remove();
});

test('a written image is left clean even when another mount namespace held a copy of its mount at close', { skip }, async () => {
  const base = await debianBase();
  const overlay = join(work.dir, 'held.qcow2');
  await createOverlay(base.path, overlay);
  const session = await openImage(overlay, { runtimeDir: testPaths().runtime });
  await session.writeFile('/etc/prescient-held', 'written before the close\n');
  // Any `unshare --mount` on the host copies every mount, ours included, and keeps it for 3 s.
  const holder = spawn('unshare', ['--mount', 'sleep', '3'], { stdio: 'ignore' });
  const held = new Promise((r) => holder.on('exit', r));
  await new Promise((r) => setTimeout(r, 300));
  await session.close();
  await held;
  // Opened again read-only: a filesystem needing journal recovery would refuse to mount.
  await withImageSession(overlay, { runtimeDir: testPaths().runtime, readOnly: true }, async (s) => {
    assert.equal((await s.readFile('/etc/prescient-held')).toString(), 'written before the close\n');
  });
});
