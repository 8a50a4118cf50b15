import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { paths } from '../../src/core/config.js';
import { run } from '../../src/core/exec.js';
import { buildDebianBase, type BaseImage } from '../../src/image/bases/build.js';
import { recipeFor } from '../../src/image/bases/recipes.js';
import * as qemuImg from '../../src/image/qemu-img.js';

/**
 * Fixtures for tests that open real images. State that is slow to make (the Debian base) lives
 * in one folder for the whole test run ($PRESCIENT_TEST_HOME, set by scripts/test), so it is
 * built once and reused by every test file.
 */
export function testHome(): string {
  return process.env.PRESCIENT_TEST_HOME ?? '/var/tmp/prescient-test';
}

export function testPaths(): ReturnType<typeof paths> {
  return paths(testHome());
}

export async function scratchDir(prefix = 'prescient-test-'): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

let debian: Promise<BaseImage> | undefined;

/** The Debian 12 base image, built once per test run (about 3-5 minutes the first time). */
export function debianBase(): Promise<BaseImage> {
  const p = testPaths();
  debian ??= buildDebianBase(recipeFor('debian-12'), { basesDir: p.bases, runtimeDir: p.runtime });
  return debian;
}

export type TableKind = 'gpt' | 'dos' | 'none';

/**
 * A small disk image whose root filesystem is filled from `tree` by mkfs (no mount needed):
 * with a GPT or MBR partition table (an EFI-like first partition, then the root), or a bare
 * filesystem, as qcow2 or raw.
 */
export async function makeImageFromTree(tree: string, out: string, options: { table: TableKind; format: 'qcow2' | 'raw'; sizeMiB?: number }): Promise<string> {
  const sizeMiB = options.sizeMiB ?? 96;
  const raw = options.format === 'raw' ? out : `${out}.raw`;
  await run('truncate', ['-s', `${sizeMiB}M`, raw]);
  let offsetMiB = 0;
  if (options.table !== 'none') {
    // A small first partition that is not the root, so root discovery has to look.
    const layout =
      options.table === 'gpt'
        ? 'label: gpt\nstart=2048, size=16MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\nstart=34816, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n'
        : 'label: dos\nstart=2048, size=16MiB, type=ef\nstart=34816, type=83\n';
    await run('sfdisk', ['--quiet', raw], { input: layout });
    await run('mkfs.vfat', ['--offset', '2048', raw, String(16 * 1024)], { allowFailure: true });
    offsetMiB = 17;
  }
  const fsKiB = (sizeMiB - offsetMiB - (options.table === 'gpt' ? 1 : 0)) * 1024;
  await run('mkfs.ext4', ['-F', '-q', '-E', `offset=${offsetMiB * 1024 * 1024}`, '-d', tree, raw, `${fsKiB}k`]);
  if (options.format === 'qcow2') {
    await qemuImg.convert(raw, out, { sourceFormat: 'raw', targetFormat: 'qcow2' });
    await rm(raw);
  }
  return out;
}

export async function ensureDir(p: string): Promise<string> {
  await mkdir(p, { recursive: true });
  return p;
}

/** How often any of `needles` is in the bytes of `file` (a qcow2 file's own clusters are its raw data). */
export async function occurrences(file: string, ...needles: string[]): Promise<number> {
  const wanted = needles.map((n) => Buffer.from(n));
  const keep = Math.max(...wanted.map((w) => w.length)) - 1;
  let count = 0;
  let carry = Buffer.alloc(0);
  for await (const chunk of createReadStream(file, { highWaterMark: 4 * 1024 * 1024 })) {
    const buf = Buffer.concat([carry, chunk as Buffer]);
    // An occurrence ending in the carried bytes was counted in the chunk before.
    const from = carry.length;
    for (const want of wanted) {
      for (let i = buf.indexOf(want); i !== -1; i = buf.indexOf(want, i + 1)) if (i + want.length > from) count++;
    }
    carry = buf.subarray(Math.max(0, buf.length - keep));
  }
  return count;
}
