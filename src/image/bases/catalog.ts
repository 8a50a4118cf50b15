import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { NotFoundError } from '../../core/errors.js';
import { readBase, type BaseImage } from './build.js';

/** The base images on this machine: each is `<name>-<key>.qcow2` with its record beside it. */
export async function listBases(basesDir: string): Promise<Omit<BaseImage, 'cached'>[]> {
  const names = await readdir(basesDir).catch(() => [] as string[]);
  const out: Omit<BaseImage, 'cached'>[] = [];
  for (const n of names.filter((x) => x.endsWith('.json')).sort()) {
    const b = await readBase(join(basesDir, n));
    if (b) out.push(b);
  }
  return out;
}

/** A base by name (`debian-12`), by name-key, or the path of a known base file. */
export async function findBase(basesDir: string, ref: string): Promise<Omit<BaseImage, 'cached'>> {
  const all = await listBases(basesDir);
  const hit = all.find((b) => b.path === ref || `${b.name}-${b.key}` === ref) ?? all.filter((b) => b.name === ref).at(-1);
  if (!hit) throw new NotFoundError(`no base image ${JSON.stringify(ref)}; build one with 'prescient base build debian-12' or import one`);
  return hit;
}
