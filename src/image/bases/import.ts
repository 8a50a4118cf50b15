import { chmod, copyFile, constants, lstat, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { sha256File } from '../../core/digest.js';
import { ValidationError, namingFileAs } from '../../core/errors.js';
import { gatherFacts } from '../facts.js';
import { assertSafeImageChain } from '../image-chain.js';
import { withImageSession } from '../open.js';
import * as qemuImg from '../qemu-img.js';
import { readBase, type BaseImage, type BuildOptions } from './build.js';

/**
 * Takes an existing image (a Debian cloud image, say) as a base. An imported file is untrusted:
 * it must be a plain qcow2 or raw file, and a qcow2 may not name a backing file or an external
 * data file (either could make QEMU read any file on this host). It is copied into the bases
 * folder as qcow2, keyed by its content digest, and its facts are recorded.
 */
export async function importBase(file: string, options: BuildOptions & { name?: string }): Promise<BaseImage> {
  const st = await lstat(file).catch(() => undefined);
  if (!st) throw new ValidationError('<file>', `no such file ${file}; check the path`);
  if (!st.isFile()) throw new ValidationError('<file>', `${file} is not a regular file (a symlink or a device is refused); give the image file itself`);
  const format = await qemuImg.detectFormat(file);
  await assertSafeImageChain(file, { standalone: true, field: '<file>' });
  options.progress?.step(`digest ${basename(file)}`);
  const digest = await sha256File(file, options.signal);
  const key = digest.slice('sha256:'.length, 'sha256:'.length + 16);
  const name = options.name ?? basename(file).replace(/\.(qcow2|img|raw)$/i, '').replace(/[^A-Za-z0-9._-]/g, '-');
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) throw new ValidationError('--name', 'letters, digits, dot, dash and underscore, at most 64');
  await mkdir(options.basesDir, { recursive: true });
  const path = join(options.basesDir, `${name}-${key}.qcow2`);
  const factsPath = join(options.basesDir, `${name}-${key}.json`);
  const existing = await readBase(factsPath);
  if (existing) return { ...existing, cached: true };

  const tmp = join(options.basesDir, `.import-${key}-${process.pid}.qcow2`);
  try {
    options.progress?.step(format === 'raw' ? 'convert raw to qcow2' : 'copy the image');
    if (format === 'raw') await qemuImg.convert(file, tmp, { sourceFormat: 'raw', targetFormat: 'qcow2', ...(options.signal ? { signal: options.signal } : {}) });
    else await copyFile(file, tmp, constants.COPYFILE_FICLONE);
    options.progress?.step('read the image facts');
    const facts = await withImageSession(tmp, { readOnly: true, runtimeDir: options.runtimeDir, ...(options.signal ? { signal: options.signal } : {}) }, gatherFacts).catch((e: unknown) => {
      throw namingFileAs(e, tmp, file);
    });
    await chmod(tmp, 0o444);
    await rename(tmp, path);
    const record: Omit<BaseImage, 'cached'> = { name, key, path, facts: { ...facts, image: path }, source: file };
    await writeFile(`${factsPath}.tmp`, JSON.stringify(record, null, 2));
    await rename(`${factsPath}.tmp`, factsPath);
    return { ...record, cached: false };
  } finally {
    await rm(tmp, { force: true });
  }
}
