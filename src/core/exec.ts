import { spawn, type SpawnOptions } from 'node:child_process';
import { AbortedError, ExternalToolError, TimeoutError } from './errors.js';

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string | Buffer;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Resolve instead of throwing on a non-zero exit. */
  allowFailure?: boolean;
  /** Cap on captured bytes per stream; the tail is kept, since errors come last. */
  maxOutputBytes?: number;
}

export interface RunResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

/**
 * Run a program with an argument vector (never through a shell), capturing its output.
 * A non-zero exit throws ExternalToolError carrying the tool's own stderr; a timeout kills the
 * whole process group and throws TimeoutError; an abort does the same and throws AbortedError.
 */
export function run(cmd: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const max = options.maxOutputBytes ?? 16 * 1024 * 1024;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) return reject(new AbortedError(cmd));
    const spawnOptions: SpawnOptions = {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true, // own process group, so a timeout can kill everything it started
    };
    const child = spawn(cmd, args, spawnOptions);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    const keep = (chunks: Buffer[], chunk: Buffer, len: number): number => {
      chunks.push(chunk);
      len += chunk.length;
      while (len > max && chunks.length > 1) len -= chunks.shift()!.length;
      return len;
    };
    child.stdout!.on('data', (c: Buffer) => (outLen = keep(out, c, outLen)));
    child.stderr!.on('data', (c: Buffer) => (errLen = keep(err, c, errLen)));
    let failure: Error | undefined;
    const killGroup = (): void => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    };
    const timer = options.timeoutMs
      ? setTimeout(() => {
          failure = new TimeoutError(`${cmd} ${args.slice(0, 3).join(' ')}`, options.timeoutMs!);
          killGroup();
        }, options.timeoutMs)
      : undefined;
    const onAbort = (): void => {
      failure = new AbortedError(cmd);
      killGroup();
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (e) => {
      failure = new ExternalToolError(cmd, args, null, e.message);
    });
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (failure) return reject(failure);
      if (code !== 0 && !options.allowFailure) return reject(new ExternalToolError(cmd, args, code, stderr || stdout));
      resolve({ exitCode: code, stdout, stderr, durationMs: performance.now() - started });
    });
    child.stdin!.on('error', () => {
      /* the child may exit before reading its input */
    });
    if (options.input !== undefined) child.stdin!.end(options.input);
    else child.stdin!.end();
  });
}

/** True when `cmd` is on PATH. */
export async function hasCommand(cmd: string): Promise<boolean> {
  const r = await run('sh', ['-c', `command -v "$1"`, 'sh', cmd], { allowFailure: true });
  return r.exitCode === 0;
}
