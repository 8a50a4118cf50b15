import { readFileSync } from 'node:fs';

/** CPU seconds (user + system) of this process, all its threads. */
export function ownCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/**
 * utime + stime of a process (`pid`) or of one thread (`pid`, `tid`), in seconds, from /proc
 * (Linux; USER_HZ is 100 there). Throws when it has ended.
 */
export function procCpuSeconds(pid: number, tid?: number): number {
  const f = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
