import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** `<repo>/bin/prescient.js`, from dist/test/support. */
const cli = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'prescient.js');

export interface ServeProcess {
  port: number;
  base: string;
  stop: () => Promise<void>;
}

/** The real `prescient serve` on 127.0.0.1, port 0, over the state folder `home`. */
export async function startServe(home: string, extraArgs: string[] = []): Promise<ServeProcess> {
  const child = spawn(process.execPath, [cli, 'serve', '--port', '0', ...extraArgs], {
    env: { ...process.env, PRESCIENT_HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening on http:\/\/[^:]+:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`prescient serve exited (${code}): ${stderr}`)));
  });
  return {
    port,
    base: `http://127.0.0.1:${port}`,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
