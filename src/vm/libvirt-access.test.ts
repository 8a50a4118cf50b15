import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { libvirtAccessProblems } from './libvirt-access.js';

test('a disk libvirt\'s QEMU user cannot open is named with the path that blocks it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'prescient-access-'));
  try {
    await chmod(dir, 0o755);
    const open = join(dir, 'open.qcow2');
    await writeFile(open, 'x', { mode: 0o644 });
    const unreadable = join(dir, 'private.qcow2');
    await writeFile(unreadable, 'x', { mode: 0o600 });
    await mkdir(join(dir, 'closed'), { mode: 0o700 });
    const hidden = join(dir, 'closed', 'layer.qcow2');
    await writeFile(hidden, 'x', { mode: 0o644 });
    await chmod(join(dir, 'closed'), 0o700);
    assert.deepEqual(await libvirtAccessProblems([open]), []);
    const problems = await libvirtAccessProblems([open, unreadable, hidden]);
    assert.equal(problems.length, 2);
    assert.match(problems[0]!, /private\.qcow2: not readable by others \(mode 600\)/);
    assert.match(problems[1]!, /closed is not searchable by others \(mode 700\)/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
