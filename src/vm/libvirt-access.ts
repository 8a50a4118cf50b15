import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/**
 * Whether libvirt's QEMU (the unprivileged `libvirt-qemu` user on Debian) can open these files:
 * each must be readable by others and every folder above it searchable by others. libvirt
 * relabels the disk it is given, but not always a shared backing chain, so we ask for what
 * works without it. Returns one warning per file it could not open, naming the blocking path.
 */
export async function libvirtAccessProblems(files: readonly string[]): Promise<string[]> {
  const problems: string[] = [];
  for (const f of files) {
    const file = resolve(f);
    const st = await stat(file).catch(() => undefined);
    if (!st) {
      problems.push(`${file}: missing`);
      continue;
    }
    if ((st.mode & 0o004) === 0) {
      problems.push(`${file}: not readable by others (mode ${(st.mode & 0o777).toString(8)})`);
      continue;
    }
    for (let dir = dirname(file); ; dir = dirname(dir)) {
      const d = await stat(dir).catch(() => undefined);
      if (d && (d.mode & 0o001) === 0) {
        problems.push(`${file}: folder ${dir} is not searchable by others (mode ${(d.mode & 0o777).toString(8)})`);
        break;
      }
      if (dir === dirname(dir)) break;
    }
  }
  return problems;
}
