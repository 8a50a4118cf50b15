import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { hasCommand } from '../../core/exec.js';
import { dockerRegistryAuthYaml } from '../../grants/docker-registry-auth.js';

/**
 * Debian's distribution registry (`docker-registry`) on 127.0.0.1 with its own temporary
 * config and storage, for the interoperability tests and the pull benchmark. Stopped by pid.
 */
export interface RunningRegistry {
  host: string;
  port: number;
  /** host:port */
  address: string;
  pid: number;
  /** Its configuration file (for `docker-registry garbage-collect --dry-run <config>`). */
  config: string;
  stop(): Promise<void>;
}

export async function hasDockerRegistry(): Promise<boolean> {
  return (await hasCommand('docker-registry')) && (await hasCommand('skopeo'));
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export interface DockerRegistryOptions {
  /**
   * `auth: token` with Prescient's tokens: `realm` is serve's token endpoint
   * (`http://127.0.0.1:<port>/v1/token`), `certificatePem` the home's signer certificate
   * (Grants.signer.certificatePem, what `prescient registry cert` prints).
   */
  tokenAuth?: { realm: string; certificatePem: string };
}

export async function startDockerRegistry(dir: string, options: DockerRegistryOptions = {}): Promise<RunningRegistry> {
  await mkdir(join(dir, 'data'), { recursive: true });
  const port = await freePort();
  const config = join(dir, 'config.yml');
  let auth = '';
  if (options.tokenAuth) {
    const certificateFile = join(dir, 'prescient-token.crt');
    await writeFile(certificateFile, options.tokenAuth.certificatePem);
    auth = dockerRegistryAuthYaml({ realm: options.tokenAuth.realm, certificateFile });
  }
  await writeFile(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: error',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(dir, 'data')}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      auth,
    ].join('\n'),
  );
  const child: ChildProcess = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const pid = child.pid!;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/v2/`);
      // with token auth the base check answers 401 and a challenge: listening all the same
      if (r.ok || (options.tokenAuth && r.status === 401)) break;
    } catch {
      /* not listening yet */
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      throw new Error(`docker-registry did not start: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    host: '127.0.0.1',
    port,
    address: `127.0.0.1:${port}`,
    pid,
    config,
    async stop() {
      if (child.exitCode === null) process.kill(pid, 'SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGKILL');
    },
  };
}
