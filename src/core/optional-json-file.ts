import { readFile } from 'node:fs/promises';
import { ConfigFileError } from './errors.js';

/**
 * An optional JSON configuration file: its parsed content, or `undefined` when there is no such
 * file. A file that is there but is not JSON is a ConfigFileError naming the file.
 */
export async function readOptionalJsonFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new ConfigFileError(file, file, `not JSON: ${(e as Error).message}`);
  }
}
