import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ImageRequest } from './request-workflow.js';

export interface HistoryEntry {
  at: string;
  clientId: string;
  request: ImageRequest;
}

/**
 * Every client request, one JSON line each (`<home>/request-history.jsonl`): what the proactive
 * scheduler learns habits from, and what it replays to build ahead. Proactive builds are not recorded.
 */
export class RequestHistory {
  constructor(readonly file: string) {}

  async record(entry: HistoryEntry): Promise<void> {
    await mkdir(dirname(this.file), { recursive: true });
    await appendFile(this.file, `${JSON.stringify(entry)}\n`);
  }

  async load(): Promise<HistoryEntry[]> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    // A torn last line (a crash mid-append) is skipped, not fatal.
    return text.split('\n').flatMap((line) => {
      if (!line.trim()) return [];
      try {
        return [JSON.parse(line) as HistoryEntry];
      } catch {
        return [];
      }
    });
  }
}
