import { connect } from 'node:net';
import { run } from '../core/exec.js';
import type { ServiceCredential } from '../pipeline/spec/machine-seed.js';

/**
 * What a user does first with each predicted port, done from the host through a forwarded
 * port on 127.0.0.1: log in over SSH with the client's key, fetch a page, PING Redis with its
 * password, run a query on PostgreSQL and MariaDB, ask memcached its version. Each returns a
 * line saying what answered (or what did not), never throws.
 */
export interface ProbeTarget {
  guestPort: number;
  hostPort: number;
  credential?: ServiceCredential;
  login?: { user: string; identityFile: string };
  timeoutMs: number;
}
export type ProbeResult = { ok: boolean; detail: string };

/** Sends `request` on a fresh TCP connection and resolves with what came back once `done` says so. */
function exchange(port: number, request: string, done: (reply: string) => boolean, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(reply ? `incomplete answer: ${JSON.stringify(reply.slice(0, 200))}` : 'no answer'));
    }, timeoutMs);
    socket.on('connect', () => socket.write(request));
    socket.on('data', (d: Buffer) => {
      reply += d.toString('latin1');
      if (done(reply)) {
        clearTimeout(timer);
        socket.destroy();
        resolve(reply);
      }
    });
    socket.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      if (!done(reply)) reject(new Error(reply ? `closed after ${JSON.stringify(reply.slice(0, 200))}` : 'connection closed without an answer'));
    });
  });
}

/** RESP: one command as an array of bulk strings (so a password is never parsed as syntax). */
function resp(...args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}

async function redis(t: ProbeTarget): Promise<ProbeResult> {
  const auth = t.credential ? resp('AUTH', t.credential.password) : '';
  const want = t.credential ? 2 : 1;
  const reply = await exchange(t.hostPort, `${auth}${resp('PING')}`, (r) => r.split('\r\n').filter(Boolean).length >= want, t.timeoutMs);
  const lines = reply.split('\r\n').filter(Boolean);
  const pong = lines.at(-1) === '+PONG' && (!t.credential || lines[0] === '+OK');
  return { ok: pong, detail: pong ? `PING → PONG${t.credential ? ' after AUTH' : ' (no password!)'}` : `Redis said ${lines.join(' | ')}` };
}

async function memcached(t: ProbeTarget): Promise<ProbeResult> {
  // ASCII authentication (-Y): a `set` of any key whose data is "user password", then commands.
  const login = t.credential ? `${t.credential.account} ${t.credential.password}` : '';
  const auth = t.credential ? `set auth 0 0 ${Buffer.byteLength(login)}\r\n${login}\r\n` : '';
  const want = t.credential ? 2 : 1;
  const reply = await exchange(t.hostPort, `${auth}version\r\n`, (r) => r.split('\r\n').filter(Boolean).length >= want || r.startsWith('CLIENT_ERROR') || r.startsWith('ERROR'), t.timeoutMs);
  const lines = reply.split('\r\n').filter(Boolean);
  const ok = lines.at(-1)?.startsWith('VERSION ') === true && (!t.credential || lines[0] === 'STORED');
  return { ok, detail: ok ? `${lines.at(-1)}${t.credential ? ' after auth' : ''}` : `memcached said ${JSON.stringify(lines.join(' | '))}` };
}

async function http(t: ProbeTarget): Promise<ProbeResult> {
  const r = await fetch(`http://127.0.0.1:${t.hostPort}/`, { signal: AbortSignal.timeout(t.timeoutMs) });
  await r.arrayBuffer();
  return { ok: r.status < 500, detail: `HTTP ${r.status}` };
}

async function postgres(t: ProbeTarget): Promise<ProbeResult> {
  if (!t.credential) return { ok: false, detail: 'no credentials for PostgreSQL (credentials.json beside the image)' };
  const r = await run('psql', ['-X', '-w', '-h', '127.0.0.1', '-p', String(t.hostPort), '-U', t.credential.account, '-d', 'postgres', '-tAc', 'SELECT 6*7'], {
    env: { ...process.env, PGPASSWORD: t.credential.password, PGCONNECT_TIMEOUT: String(Math.ceil(t.timeoutMs / 1000)), PGSSLMODE: 'prefer' },
    allowFailure: true,
    timeoutMs: t.timeoutMs + 5000,
  });
  const ok = r.exitCode === 0 && r.stdout.trim() === '42';
  return { ok, detail: ok ? `SELECT 6*7 → 42 as ${t.credential.account} (scram)` : `psql: ${r.stderr.trim().split('\n').at(-1) ?? r.exitCode}` };
}

async function mariadb(t: ProbeTarget): Promise<ProbeResult> {
  if (!t.credential) return { ok: false, detail: 'no credentials for MariaDB (credentials.json beside the image)' };
  const r = await run('mariadb', ['--protocol=TCP', '-h', '127.0.0.1', '-P', String(t.hostPort), '-u', t.credential.account, `--connect-timeout=${Math.ceil(t.timeoutMs / 1000)}`, '-N', '-B', '-e', 'SELECT 6*7'], {
    env: { ...process.env, MYSQL_PWD: t.credential.password },
    allowFailure: true,
    timeoutMs: t.timeoutMs + 5000,
  });
  const ok = r.exitCode === 0 && r.stdout.trim() === '42';
  return { ok, detail: ok ? `SELECT 6*7 → 42 as ${t.credential.account}` : `mariadb: ${r.stderr.trim().split('\n').at(-1) ?? r.exitCode}` };
}

/** The client's login: key only (BatchMode: no password prompt can succeed), fresh host key. */
async function ssh(t: ProbeTarget): Promise<ProbeResult> {
  if (!t.login) {
    const banner = await exchange(t.hostPort, '', (r) => r.includes('\n'), t.timeoutMs);
    return { ok: banner.startsWith('SSH-2.0-'), detail: `${banner.trim()} (no --identity given: login not tried)` };
  }
  const r = await sshRun(t.hostPort, t.login, ['sh', '-c', 'echo "$(id -un)@$(hostname)"'], t.timeoutMs);
  const ok = r.exitCode === 0 && r.stdout.trim().startsWith(`${t.login.user}@`);
  return { ok, detail: ok ? `logged in as ${r.stdout.trim()} with the client's key` : `ssh: ${r.stderr.trim().split('\n').at(-1) ?? r.exitCode}` };
}

/**
 * ssh answers a connection reset while sshd restarts: cloud-init restarts it once while it
 * applies the seed (ssh_pwauth), so a login can work and the next one be reset. Those are
 * tried again; an authentication refusal is an answer and is not.
 */
const transientSsh = /kex_exchange_identification|Connection reset|Connection refused|Connection closed by remote host|closed by remote host/;

export async function sshAttempt(args: readonly string[], timeoutMs: number): ReturnType<typeof run> {
  let r = await run('ssh', ['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', `ConnectTimeout=${Math.ceil(timeoutMs / 1000)}`, ...args], { allowFailure: true, timeoutMs: timeoutMs + 10_000 });
  for (let i = 0; i < 6 && r.exitCode === 255 && transientSsh.test(r.stderr); i++) {
    await new Promise((res) => setTimeout(res, 5000));
    r = await run('ssh', ['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', `ConnectTimeout=${Math.ceil(timeoutMs / 1000)}`, ...args], { allowFailure: true, timeoutMs: timeoutMs + 10_000 });
  }
  return r;
}

/** Runs a command in the guest over SSH as the client's user, key only (argv is quoted for the remote shell). */
export function sshRun(hostPort: number, login: { user: string; identityFile: string }, argv: readonly string[], timeoutMs: number): ReturnType<typeof run> {
  return sshAttempt(
    [
      '-i', login.identityFile,
      '-p', String(hostPort),
      '-o', 'BatchMode=yes',
      '-o', 'IdentitiesOnly=yes',
      '-o', 'PasswordAuthentication=no',
      `${login.user}@127.0.0.1`,
      '--',
      ...argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`),
    ],
    timeoutMs,
  );
}

async function tcp(t: ProbeTarget): Promise<ProbeResult> {
  await new Promise<void>((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port: t.hostPort }, () => {
      s.destroy();
      resolve();
    });
    s.setTimeout(t.timeoutMs, () => s.destroy(new Error('timeout')));
    s.on('error', reject);
  });
  return { ok: true, detail: 'TCP connection accepted' };
}

const byPort: Record<number, { name: string; probe: (t: ProbeTarget) => Promise<ProbeResult> }> = {
  22: { name: 'ssh', probe: ssh },
  80: { name: 'http', probe: http },
  5432: { name: 'postgresql', probe: postgres },
  3306: { name: 'mariadb', probe: mariadb },
  6379: { name: 'redis', probe: redis },
  11211: { name: 'memcached', probe: memcached },
};

export function probeName(port: number): string {
  return `${byPort[port]?.name ?? 'tcp'} :${port}`;
}

export async function probePort(t: ProbeTarget): Promise<ProbeResult> {
  try {
    return await (byPort[t.guestPort]?.probe ?? tcp)(t);
  } catch (e) {
    return { ok: false, detail: `no answer from the host: ${(e as Error).message}` };
  }
}
