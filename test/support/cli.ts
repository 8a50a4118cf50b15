import { execFile } from 'node:child_process';
import { cliPath } from './repo.js';

export { datasetsDir } from './datasets.js';

/** Runs `prescient ARGS --json` with its own PRESCIENT_HOME; resolves with the parsed stdout and the exit code. */
export function prescient(home: string, args: readonly string[], timeoutMs = 600_000): Promise<{ code: number; json: any; stderr: string }> {
  return new Promise((resolvePromise) => {
    execFile(
      process.execPath,
      [cliPath, ...args, '--json', '--quiet'],
      { env: { ...process.env, PRESCIENT_HOME: home }, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        let json: unknown;
        try {
          json = JSON.parse(stdout);
        } catch {
          json = undefined;
        }
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolvePromise({ code, json, stderr });
      },
    );
  });
}
