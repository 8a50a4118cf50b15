import { posix } from 'node:path';
import type { ImageSession } from '../../src/image/session.js';
import type { SeedFile } from '../../src/pipeline/spec/cloud-init.js';

/**
 * What cloud-init's write_files does with the seed at first boot, done in an open image: for
 * tests that check a service with its secrets without booting. Owner and mode as the seed says.
 */
export async function applySeedFiles(session: ImageSession, files: readonly SeedFile[]): Promise<void> {
  for (const f of files) {
    const dir = posix.dirname(f.path);
    if (!(await session.stat(dir))) await session.mkdir(dir, { parents: true });
    await session.writeFile(f.path, f.content, { mode: Number.parseInt(f.permissions, 8) });
    await session.exec(['chown', f.owner, f.path], { timeoutMs: 30_000 });
  }
}
