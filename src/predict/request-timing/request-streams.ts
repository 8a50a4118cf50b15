import { createReadStream } from 'node:fs';
import { createInterface, type Interface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { ValidationError } from '../../core/errors.js';
import { loraColumns, loraLineReader } from './lora-requests.js';

/**
 * Real per-user request streams: when each user asked, in seconds.
 * `google-submits`: the Borg 2011 job submissions (`time_s,user,logical_job_name`, gzip; seconds
 * from the trace's start); `swf`: a Standard Workload Format log (field 2 the submit time, field 12
 * the user, field 14 the executable); `lora`: the Alibaba GenAI serving trace's requests
 * (lora-requests.ts: a group asks, naming the model it needs; epoch seconds, UTC). With each
 * request comes the program it ran (for policies that learn per program).
 */
export const requestStreamFormats = ['google-submits', 'swf', 'lora'] as const;
export type RequestStreamFormat = (typeof requestStreamFormats)[number];

/** Each user's request times (sorted) and, index for index, the program each request ran. */
export interface RequestLog {
  times: Map<string, number[]>;
  programs: Map<string, string[]>;
}

export async function readRequestStreams(path: string, format: RequestStreamFormat, signal?: AbortSignal): Promise<Map<string, number[]>> {
  return (await readRequestLog(path, format, signal)).times;
}

export async function readRequestLog(path: string, format: RequestStreamFormat, signal?: AbortSignal): Promise<RequestLog> {
  const users = new Map<string, { time: number; program: string }[]>();
  const lines = openLines(path, signal);
  let n = 0;
  const lora = format === 'lora' ? loraLineReader() : undefined;
  for await (const line of lines) {
    n++;
    const parsed = lora ? lora(line, n) : format === 'google-submits' ? googleLine(line, n) : swfLine(line);
    if (!parsed) continue;
    const requests = users.get(parsed.user) ?? [];
    requests.push({ time: parsed.time, program: parsed.program });
    users.set(parsed.user, requests);
  }
  if (users.size === 0) throw new ValidationError('--dataset', `no ${format} requests found in ${path}`);
  const log: RequestLog = { times: new Map(), programs: new Map() };
  for (const [user, requests] of users) {
    requests.sort((a, b) => a.time - b.time);
    log.times.set(user, requests.map((r) => r.time));
    log.programs.set(user, requests.map((r) => r.program));
  }
  return log;
}

/** A request stream's lines, gunzipped for `*.gz`; closing the interface ends the file's stream too. */
function openLines(path: string, signal?: AbortSignal): Interface {
  const input = createReadStream(path, signal ? { signal } : {});
  const lines = createInterface({ input: path.endsWith('.gz') ? input.pipe(createGunzip()) : input, crlfDelay: Infinity });
  lines.once('close', () => input.destroy());
  return lines;
}

/**
 * The format of a request stream when none is given: `swf` for a `*.swf[.gz]` file; `lora` when
 * its first line is a header naming the columns the lora reader needs; else `google-submits`.
 */
export async function detectRequestFormat(path: string, signal?: AbortSignal): Promise<RequestStreamFormat> {
  if (/\.swf(\.gz)?$/.test(path)) return 'swf';
  const lines = openLines(path, signal);
  try {
    for await (const line of lines) return isLoraHeader(line) ? 'lora' : 'google-submits';
  } finally {
    lines.close();
  }
  return 'google-submits';
}

function isLoraHeader(line: string): boolean {
  const names = line.split(',').map((c) => c.trim());
  return loraColumns.every((c) => names.includes(c));
}

function googleLine(line: string, n: number): { user: string; time: number; program: string } | undefined {
  if (n === 1 && line.startsWith('time_s')) return undefined;
  const [time, user, program] = line.split(',');
  const t = Number(time);
  if (!user || !Number.isFinite(t)) throw new ValidationError(`line ${n}`, 'expected time_s,user,logical_job_name');
  return { user, time: t, program: program ?? '' };
}

function swfLine(line: string): { user: string; time: number; program: string } | undefined {
  if (line.startsWith(';') || line.trim() === '') return undefined;
  const f = line.trim().split(/\s+/);
  const t = Number(f[1]);
  const user = f[11];
  if (!Number.isFinite(t) || t < 0 || user === undefined || user === '-1') return undefined;
  // Field 14: the executable id (−1 when unknown).
  return { user, time: t, program: f[13] ?? '-1' };
}
