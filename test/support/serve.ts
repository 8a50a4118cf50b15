import { spawn, type ChildProcess } from 'node:child_process';
import { cliPath } from './repo.js';


export interface ServeProcess {
  url: string;
  port: number;
  /** The same as `url`: the base for request paths. */
  base: string;
  child: ChildProcess;
  /** What serve logged so far (its request log, its errors): for a failing test's message. */
  stderr: () => string;
  stop: () => Promise<void>;
}

export interface ServeOptions {
  /** Variables set (a string) or removed (undefined) in serve's environment, over this process's. */
  env?: Record<string, string | undefined>;
  /** Another tree's `bin/prescient.js` (a benchmark comparing an older build). */
  cli?: string;
}

/** The real `prescient serve` on 127.0.0.1, port 0, over the state folder `home`; resolves once it printed its URL. */
export async function startServe(home: string, extraArgs: readonly string[] = [], options: ServeOptions = {}): Promise<ServeProcess> {
  const env: NodeJS.ProcessEnv = { ...process.env, PRESCIENT_HOME: home };
  for (const [k, v] of Object.entries(options.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const child = spawn(process.execPath, [options.cli ?? cliPath, 'serve', '--port', '0', '--json', ...extraArgs], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${stderr}`)), 30_000);
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      try {
        const v = JSON.parse(out) as { url: string };
        clearTimeout(timer);
        resolve(v.url);
      } catch {
        /* not complete yet */
      }
    });
    child.once('exit', (code) => reject(new Error(`prescient serve exited (${code}): ${stderr}`)));
  });
  // A server that dies mid-test says why, instead of leaving only ECONNREFUSED behind.
  let stopping = false;
  child.once('exit', (code, signal) => {
    if (!stopping) process.stderr.write(`prescient serve exited unexpectedly (code ${code}, signal ${signal}):\n${stderr}\n`);
  });
  return {
    url,
    port: Number(new URL(url).port),
    base: url,
    child,
    /** What serve logged so far (its request log, its errors): for a failing test's message. */
    stderr: () => stderr,
    stop: async () => {
      stopping = true;
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}
