import type { ErrorCode } from '../core/errors.js';

/**
 * The documented exit statuses of every command (README, docs/configuration.md, `--help`).
 * Scripts branch on these, so they only ever gain entries: 2 is the convention for usage and
 * invalid input (getopt, grep, curl), 130 for an interrupt (128 + SIGINT).
 */
export const exitStatuses = [
  { status: 0, meaning: 'success' },
  { status: 1, meaning: 'the work failed: a check did not pass, a tool failed, an internal error' },
  { status: 2, meaning: 'usage or invalid input: an unknown flag, a missing argument, a file that is missing or not valid' },
  { status: 3, meaning: 'not found: no such base image, image version, repository or client' },
  { status: 4, meaning: 'permission denied: the command needs root, or a file or folder cannot be read or written' },
  { status: 130, meaning: 'interrupted (Ctrl-C, SIGTERM)' },
] as const;

const byCode: Partial<Record<ErrorCode, number>> = {
  VALIDATION: 2,
  UNSAFE_PATH: 2,
  PAYLOAD_TOO_LARGE: 2,
  UNSUPPORTED_MEDIA_TYPE: 2,
  NOT_FOUND: 3,
  FORBIDDEN: 4,
  UNAUTHORIZED: 4,
  ABORTED: 130,
};

export function exitStatusOf(code: ErrorCode): number {
  return byCode[code] ?? 1;
}

export function describeExitStatuses(): string {
  return exitStatuses.map((s) => `  ${String(s.status).padEnd(4)} ${s.meaning}`).join('\n');
}
