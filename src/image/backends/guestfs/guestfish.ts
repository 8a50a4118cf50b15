import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
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
  private errorOffset = 0;

  private constructor(
    readonly pid: number,
    private readonly env: NodeJS.ProcessEnv,
    private readonly errorLog: string,
  ) {}

  /**
   * In remote mode a failing command's message is printed by the server, not by the client
   * we run, so the server's stderr goes to `errorLog` and each failure reads what it added.
   */
  static async listen(errorLog: string, signal?: AbortSignal): Promise<Guestfish> {
    const env = await libguestfsEnv();
    const errFd = openSync(errorLog, 'a');
    const out = await new Promise<string>((resolve, reject) => {
      // --listen forks a server and prints GUESTFISH_PID=…; the parent exits at once, but the
      // server keeps our pipes open, so we finish on the parent's exit, not on pipe close.
      const child = spawn('guestfish', ['--listen'], { env, stdio: ['ignore', 'pipe', errFd], signal });
      let stdout = '';
      child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
      child.on('error', reject);
      child.on('exit', (code) => {
        setImmediate(() => {
          child.stdout!.destroy();
          closeSync(errFd);
          if (code === 0) resolve(stdout);
          else reject(new ExternalToolError('guestfish', ['--listen'], code, readFileSync(errorLog, 'utf8')));
        });
      });
    });
    const pid = Number(/GUESTFISH_PID=(\d+)/.exec(out)?.[1]);
    if (!Number.isInteger(pid)) throw new ExternalToolError('guestfish', ['--listen'], 0, `unexpected output: ${out}`);
    return new Guestfish(pid, env, errorLog);
  }

  async call(args: readonly string[], options: { signal?: AbortSignal; timeoutMs?: number; allowFailure?: boolean } = {}): Promise<string> {
    // The leading '-' keeps the server alive when the command fails (otherwise a remote server
    // exits on its first error); the failure is then told by what it wrote to the error log.
    const r = await run('guestfish', [`--remote=${this.pid}`, '--', `-${args[0]}`, ...args.slice(1)], {
      env: this.env,
      signal: options.signal,
      timeoutMs: options.timeoutMs ?? 30 * 60_000,
      allowFailure: true,
    });
    const log = await readFile(this.errorLog, 'utf8').catch(() => '');
    const said = log.slice(this.errorOffset);
    this.errorOffset = log.length;
    if (r.exitCode !== 0 || /error/i.test(said)) {
      const message = `${r.stderr}${said}`.trim();
      if (options.allowFailure) throw new GuestfishCommandError(args, message);
      throw new ExternalToolError(`guestfish ${args[0]}`, args, r.exitCode, message);
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
