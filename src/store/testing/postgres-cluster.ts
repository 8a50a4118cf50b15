import { spawn, type ChildProcess } from 'node:child_process';
import { chown, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../core/exec.js';
import { freePort } from '../../registry/testing/docker-registry.js';

/**
 * A throwaway PostgreSQL cluster (Debian's `postgresql`) for the tests and benchmarks: initdb
 * in a temporary folder, the server on 127.0.0.1 on a free port, run as the `postgres` user
 * (PostgreSQL refuses to run as root), stopped by its pid and its folder removed.
 */
export interface RunningPostgres {
  /** postgres://postgres@127.0.0.1:PORT/postgres — trust authentication, loopback only */
  url: string;
  host: string;
  port: number;
  pid: number;
  dir: string;
  stop(): Promise<void>;
  /** An outage: the server shuts down (fast), its data kept, until `restart` starts it again on the same port. */
  halt(): Promise<void>;
  restart(): Promise<void>;
  /** A server that stops answering (a hung host, a partition): SIGSTOP to it and its backends, until `thaw`. */
  freeze(): Promise<void>;
  thaw(): Promise<void>;
}

const VERSIONS_DIR = '/usr/lib/postgresql';

/** The newest installed server's bin folder, or undefined when Debian's postgresql is absent. */
export async function postgresBin(): Promise<string | undefined> {
  try {
    const versions = (await readdir(VERSIONS_DIR)).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    for (const v of versions) {
      const bin = join(VERSIONS_DIR, v, 'bin');
      if ((await readdir(bin)).includes('postgres')) return bin;
    }
  } catch {
    /* not installed */
  }
  return undefined;
}

async function postgresUser(): Promise<{ uid: number; gid: number }> {
  const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
  const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
  return { uid, gid };
}

export async function startPostgres(): Promise<RunningPostgres> {
  const bin = await postgresBin();
  if (!bin) throw new Error('PostgreSQL is not installed: run `bash scripts/setup` (it installs Debian\'s postgresql)');
  const { uid, gid } = await postgresUser();
  const dir = await mkdtemp(join(tmpdir(), 'prescient-pg-'));
  await chown(dir, uid, gid);
  const data = join(dir, 'data');
  const as = { uid, gid, env: { ...process.env, LC_ALL: 'C.UTF-8' } };
  await new Promise<void>((resolve, reject) => {
    const c = spawn(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync'], {
      ...as,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    c.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    c.once('error', reject);
    c.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`initdb failed: ${err}`))));
  });
  const port = await freePort();
  let server = await spawnServer(bin, data, dir, port, as).catch(async (e: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw e;
  });
  let frozen: number[] = [];
  const thaw = (): void => {
    for (const pid of frozen) process.kill(pid, 'SIGCONT');
    frozen = [];
  };
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    host: '127.0.0.1',
    port,
    get pid() {
      return server.pid;
    },
    dir,
    async stop() {
      thaw();
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
    halt: () => server.stop(),
    async restart() {
      server = await spawnServer(bin, data, dir, port, as);
    },
    async freeze() {
      const children = (await readFile(`/proc/${server.pid}/task/${server.pid}/children`, 'utf8')).trim().split(/\s+/).filter(Boolean).map(Number);
      frozen = [server.pid, ...children];
      for (const pid of frozen) process.kill(pid, 'SIGSTOP');
    },
    thaw: async () => thaw(),
  };
}

interface Server {
  pid: number;
  stop(): Promise<void>;
}

async function spawnServer(bin: string, data: string, dir: string, port: number, as: { uid: number; gid: number; env: NodeJS.ProcessEnv }): Promise<Server> {
  const child: ChildProcess = spawn(
    join(bin, 'postgres'),
    ['-D', data, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${dir}`,
      '-c', 'fsync=off', '-c', 'max_connections=200'],
    { ...as, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  const pid = child.pid!;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ready = await run(join(bin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port)]).then(
      () => true,
      () => false,
    );
    if (ready) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      if (child.exitCode === null) process.kill(pid, 'SIGKILL');
      throw new Error(`PostgreSQL did not start: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    pid,
    async stop() {
      // SIGINT is PostgreSQL's fast shutdown: sessions are ended (what a restart keeps is the data folder).
      if (child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGINT');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGKILL');
      await exited;
    },
  };
}
