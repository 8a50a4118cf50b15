import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../core/exec.js';

/**
 * Test chains made with the real tools: a base and overlays, each overlay writing its own byte
 * pattern at its own offset, so a read through the top shows whether the chain is intact.
 */
export interface FixtureChain {
  files: string[];
  /** pattern byte written by layer i at offset i MiB */
  patterns: number[];
}

export async function makeChain(dir: string, count: number, options: { sizeMiB?: number; writeMiB?: number; seed?: number } = {}): Promise<FixtureChain> {
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  const patterns: number[] = [];
  const size = options.sizeMiB ?? 64;
  const write = options.writeMiB ?? 1;
  for (let i = 0; i < count; i++) {
    const file = join(dir, `layer-${i}.qcow2`);
    const args = ['create', '-q', '-f', 'qcow2'];
    if (i > 0) args.push('-b', files[i - 1]!, '-F', 'qcow2');
    await run('qemu-img', [...args, file, `${size}M`]);
    const pattern = ((options.seed ?? 0) * 7 + 0x11 * (i + 1)) & 0xff;
    await run('qemu-io', ['-f', 'qcow2', '-c', `write -P ${pattern} ${i * write}M ${write}M`, file]);
    files.push(file);
    patterns.push(pattern);
  }
  return { files, patterns };
}

/** Add one overlay on top of an existing chain. */
export async function addOverlay(chain: FixtureChain, file: string, pattern: number, offsetMiB: number, writeMiB = 1): Promise<FixtureChain> {
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', chain.files.at(-1)!, '-F', 'qcow2', file]);
  await run('qemu-io', ['-f', 'qcow2', '-c', `write -P ${pattern} ${offsetMiB}M ${writeMiB}M`, file]);
  return { files: [...chain.files, file], patterns: [...chain.patterns, pattern] };
}

/** True when `pattern` reads back at `offsetMiB` through the whole chain of `top`. */
export async function readsPattern(top: string, pattern: number, offsetMiB: number, lengthMiB = 1): Promise<boolean> {
  const r = await run('qemu-io', ['-r', '-f', 'qcow2', '-c', `read -P ${pattern} ${offsetMiB}M ${lengthMiB}M`, top], { allowFailure: true });
  return r.exitCode === 0 && !/Pattern verification failed/.test(r.stdout + r.stderr);
}
