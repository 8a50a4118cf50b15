import { spawn } from 'node:child_process';
import { run } from '../../../core/exec.js';
import { ExternalToolError } from '../../../core/errors.js';
import { libguestfsEnv } from '../../kvm.js';

/**
 * A libguestfs appliance kept running by `guestfish --listen`, driven one command at a time
 * with `guestfish --remote=PID -- cmd args…`. Arguments travel as separate argv words, so no
 * quoting is involved. The appliance launch is the slow part (about 20 s under emulation);
 * each later command costs one short process.
 */
export class Guestfish {
  private constructor(
    readonly pid: number,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  static async listen(signal?: AbortSignal): Promise<Guestfish> {
    const env = await libguestfsEnv();
    const out = await new Promise<string>((resolve, reject) => {
      // --listen forks a server and prints GUESTFISH_PID=…; the parent exits at once.
      const child = spawn('guestfish', ['--listen'], { env, stdio: ['ignore', 'pipe', 'pipe'], signal });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new ExternalToolError('guestfish', ['--listen'], code, stderr))));
    });
    const pid = Number(/GUESTFISH_PID=(\d+)/.exec(out)?.[1]);
    if (!Number.isInteger(pid)) throw new ExternalToolError('guestfish', ['--listen'], 0, `unexpected output: ${out}`);
    return new Guestfish(pid, env);
  }

  async call(args: readonly string[], options: { signal?: AbortSignal; timeoutMs?: number; allowFailure?: boolean } = {}): Promise<string> {
    const r = await run('guestfish', [`--remote=${this.pid}`, '--', ...args], {
      env: this.env,
      signal: options.signal,
      timeoutMs: options.timeoutMs ?? 30 * 60_000,
      allowFailure: true,
    });
    if (r.exitCode !== 0) {
      if (options.allowFailure) throw new GuestfishCommandError(args, r.stderr);
      throw new ExternalToolError(`guestfish ${args[0]}`, args, r.exitCode, r.stderr);
    }
    return r.stdout;
  }

  /** Ends the appliance; waits for the server process to go. */
  async exit(): Promise<void> {
    await run('guestfish', [`--remote=${this.pid}`, '--', 'exit'], { env: this.env, allowFailure: true, timeoutMs: 60_000 });
    for (let i = 0; i < 300; i++) {
      try {
        process.kill(this.pid, 0);
      } catch {
        return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    try {
      process.kill(this.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/** A guestfish command that failed in a way the caller expected might happen (e.g. ENOENT). */
export class GuestfishCommandError extends ExternalToolError {
  constructor(args: readonly string[], stderr: string) {
    super(`guestfish ${args[0]}`, args, 1, stderr);
  }
}
