import { basename } from 'node:path';
import { ValidationError } from '../../core/errors.js';
import { readLines } from './line-reader.js';

/**
 * Command streams, one program name per line (the Schonlau "masquerade" files `UserN`).
 * The files carry no timestamps: a command's position is its order.
 */
export interface CommandRecord {
  lineNo: number;
  user: string;
  program: string;
}

export async function* readCommands(path: string, signal?: AbortSignal): AsyncGenerator<CommandRecord> {
  const user = basename(path);
  for await (const { line, lineNo } of readLines(path, signal)) {
    const program = line.trim();
    if (program === '') continue;
    if (/\s/.test(program)) throw new ValidationError(`${path}:${lineNo}`, 'expected one program name per line');
    yield { lineNo, user, program };
  }
}
