import { appendFile, chmod, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Where a request's image came from: already registered, built for it, joined to a build in flight, or the last good one. */
export type ImageSource = 'prebuilt' | 'built' | 'joined' | 'last-good';

/** How one request (a client's, or a build ahead by `prepare`/the scheduler) was answered. */
export interface OutcomeEntry {
  at: string;
  clientId: string;
  category: string;
  /** `error`: no image could be handed out. */
  source: ImageSource | 'error';
  /** A build ahead (`prepare`, the proactive scheduler), not a client asking. */
  proactive: boolean;
  version?: number;
  digest?: string;
  /** Why the predicted image was not built (`last-good`), or why there was no image (`error`). */
  /** serverSide (isServerSide): the message names this machine's files or tools; only the admin is shown it. */
  error?: { code: string; message: string; serverSide?: true };
  totalMs: number;
  /** The HTTP request answered (none for a build ahead or the CLI): the server log's key to it. */
  requestId?: string;
}

/**
 * Every answer, one JSON line each (`<home>/request-outcomes.jsonl`): what the dashboard reads
 * for "how was it last answered", the proactive hit rate and the failed builds. Kept apart
 * from the request history, which is written before the answer exists and feeds the scheduler.
 */
export class RequestOutcomes {
  private folder: Promise<unknown> | undefined;

  constructor(readonly file: string) {}

  async record(entry: OutcomeEntry): Promise<void> {
    // The folder is made once per process, not before every answer's line; a file from before
    // it was kept 0600 (it names every client and why its requests failed) is made so then.
    this.folder ??= (async () => {
      await mkdir(dirname(this.file), { recursive: true });
      await chmod(this.file, 0o600).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') throw e;
      });
    })().catch((e: unknown) => {
      this.folder = undefined;
      throw e;
    });
    await this.folder;
    await appendFile(this.file, `${JSON.stringify(entry)}\n`, { mode: 0o600 });
  }

  async load(): Promise<OutcomeEntry[]> {
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
        return [JSON.parse(line) as OutcomeEntry];
      } catch {
        return [];
      }
    });
  }
}
