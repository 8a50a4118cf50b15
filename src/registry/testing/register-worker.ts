import { join } from 'node:path';
import { run } from '../../core/exec.js';
import { openRegistry } from '../registry.js';

/**
 * Registers new versions in a loop until killed (argv: layout root, base qcow2, work folder,
 * repository). Each finished registration is printed as one JSON line *after* register()
 * returned, so the test knows which versions must survive a SIGKILL.
 */
const [root, base, work, repository] = process.argv.slice(2) as [string, string, string, string];
const registry = await openRegistry({ root });
for (let i = 0; ; i++) {
  const overlay = join(work, `${process.pid}-${i}.qcow2`);
  const pattern = (process.pid + i) % 200 + 20;
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', base, '-F', 'qcow2', overlay]);
  await run('qemu-io', ['-f', 'qcow2', '-c', `write -P ${pattern} 8M 4M`, overlay]);
  const r = await registry.register({ repository, layers: [{ path: base }, { path: overlay }], config: { worker: process.pid, i, pattern } });
  process.stdout.write(`${JSON.stringify({ digest: r.digest, version: r.version, pattern })}\n`);
}
