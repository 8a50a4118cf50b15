import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './cli.js';

/** `prescient serve --port 0` as a child process; resolves once it printed its URL. */
export async function startServe(home: string, extraArgs: readonly string[] = []): Promise<{ url: string; child: ChildProcess; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [join(repoRoot, 'bin/prescient.js'), 'serve', '--port', '0', '--json', ...extraArgs], {
    env: { ...process.env, PRESCIENT_HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${err}`)), 30_000);
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
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}: ${err}`)));
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    await exited;
  };
  return { url, child, stop };
}
