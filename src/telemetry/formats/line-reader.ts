import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

/** Lines of a text file with their 1-based numbers, streamed (trace files can be large). */
export async function* readLines(path: string, signal?: AbortSignal): AsyncGenerator<{ line: string; lineNo: number }> {
  const rl = createInterface({ input: createReadStream(path, { encoding: 'utf8', signal }), crlfDelay: Infinity });
  let lineNo = 0;
  for await (const line of rl) {
    lineNo++;
    yield { line, lineNo };
  }
}
