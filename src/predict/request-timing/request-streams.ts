import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { ValidationError } from '../../core/errors.js';

/**
 * Real per-user request streams: when each user asked, in seconds from the trace's start.
 * `google-submits`: the Borg 2011 job submissions (`time_s,user,logical_job_name`, gzip);
 * `swf`: a Standard Workload Format log (field 2 the submit time, field 12 the user).
 */
export const requestStreamFormats = ['google-submits', 'swf'] as const;
export type RequestStreamFormat = (typeof requestStreamFormats)[number];

export async function readRequestStreams(path: string, format: RequestStreamFormat, signal?: AbortSignal): Promise<Map<string, number[]>> {
  const users = new Map<string, number[]>();
  const input = createReadStream(path, signal ? { signal } : {});
  const lines = createInterface({ input: path.endsWith('.gz') ? input.pipe(createGunzip()) : input, crlfDelay: Infinity });
  let n = 0;
  for await (const line of lines) {
    n++;
    const parsed = format === 'google-submits' ? googleLine(line, n) : swfLine(line);
    if (!parsed) continue;
    const times = users.get(parsed.user) ?? [];
    times.push(parsed.time);
    users.set(parsed.user, times);
  }
  if (users.size === 0) throw new ValidationError('--dataset', `no ${format} requests found in ${path}`);
  for (const times of users.values()) times.sort((a, b) => a - b);
  return users;
}

function googleLine(line: string, n: number): { user: string; time: number } | undefined {
  if (n === 1 && line.startsWith('time_s')) return undefined;
  const [time, user] = line.split(',');
  const t = Number(time);
  if (!user || !Number.isFinite(t)) throw new ValidationError(`line ${n}`, 'expected time_s,user,logical_job_name');
  return { user, time: t };
}

function swfLine(line: string): { user: string; time: number } | undefined {
  if (line.startsWith(';') || line.trim() === '') return undefined;
  const f = line.trim().split(/\s+/);
  const t = Number(f[1]);
  const user = f[11];
  if (!Number.isFinite(t) || t < 0 || user === undefined || user === '-1') return undefined;
  return { user, time: t };
}
