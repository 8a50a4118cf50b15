import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** `<repo>/bin/prescient.js`, from dist/test/support. */
const cli = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'prescient.js');

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

/** The real `prescient serve` on 127.0.0.1, port 0, over the state folder `home`; resolves once it printed its URL. */
export async function startServe(home: string, extraArgs: readonly string[] = []): Promise<ServeProcess> {
  const child = spawn(process.execPath, [cli, 'serve', '--port', '0', '--json', ...extraArgs], {
    env: { ...process.env, PRESCIENT_HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
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
