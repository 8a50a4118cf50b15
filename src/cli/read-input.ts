import { readFile, stat } from 'node:fs/promises';
import { PermissionDeniedError, ValidationError } from '../core/errors.js';

/** `-` means standard input wherever the CLI reads a file (`personalize --vector -`). */
export const stdinPath = '-';

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * The bytes of a file the user named (or stdin for `-`). A missing or unreadable file is a
 * one-line error naming the flag, the path and the fix, never a stack trace.
 */
export async function readInput(path: string, field: string): Promise<Buffer> {
  if (path === stdinPath) return readStdin();
  try {
    return await readFile(path);
  } catch (e) {
    throw inputError(e, path, field);
  }
}

export async function readJsonInput(path: string, field: string): Promise<unknown> {
  const text = (await readInput(path, field)).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ValidationError(field, `${path === stdinPath ? 'standard input' : path} is not JSON: ${(e as Error).message}`);
  }
}

/** Fails early, with the same one-line errors, when a file argument is not a readable file. */
export async function assertInputFile(path: string, field: string): Promise<void> {
  const s = await stat(path).catch((e: unknown) => {
    throw inputError(e, path, field);
  });
  if (!s.isFile()) throw new ValidationError(field, `${path} is not a file`);
}

function inputError(e: unknown, path: string, field: string): Error {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new ValidationError(field, `no such file ${path}; check the path`);
  if (code === 'EACCES' || code === 'EPERM') return new PermissionDeniedError(`${field}: cannot read ${path} (permission denied); run as a user who may read it, or as root`, { field, path });
  if (code === 'EISDIR') return new ValidationError(field, `${path} is a folder; give a file`);
  return new ValidationError(field, `cannot read ${path}: ${(e as Error).message}`);
}
