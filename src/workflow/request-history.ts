import { appendFile, chmod, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';

/** One recorded request: who asked (the identified client and category), when, for which base — never the account. */
export interface HistoryEntry {
  at: string;
  clientId: string;
  /** The identity decided for the request; a replay reuses it instead of identifying again. */
  category?: string;
  matchedBy?: string;
  base?: string;
  /** The keyed pseudonym of the account that asked (`u_…`), never the account itself. */
  accountPseudonym?: string;
}

/** What the workflow hands in: the raw account, which is pseudonymised (or dropped) before anything is written. */
export type HistoryRecord = Omit<HistoryEntry, 'accountPseudonym'> & { account?: string };

const text = z.string().min(1).max(256);
/** Lines as written now, and by versions that kept the whole request (`request.base` is all that is kept of it). */
const lineSchema = z.object({
  at: z.iso.datetime({ offset: true }),
  clientId: text,
  category: text.optional(),
  matchedBy: text.optional(),
  base: text.optional(),
  accountPseudonym: z.string().regex(/^u_[A-Za-z0-9_-]{22}$/).optional(),
  request: z.object({ base: text.optional() }).optional(),
});

function entryOf(line: string): HistoryEntry | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined; // a torn last line (a crash mid-append) is skipped, not fatal
  }
  const r = lineSchema.safeParse(value);
  if (!r.success) return undefined;
  const { request, ...rest } = r.data;
  const base = rest.base ?? request?.base;
  return { ...rest, ...(base ? { base } : {}) };
}

/**
 * Every client request, one JSON line each (`<home>/request-history.jsonl`, mode 0600): what the
 * proactive scheduler learns habits from, and what it replays to build ahead. Proactive builds
 * are not recorded. It holds pseudonyms only — an account (often an e-mail address) is replaced
 * by its keyed pseudonym, or dropped when no pseudonymiser is given — and it rotates: past
 * `maxBytes` the file becomes `<file>.1` (the previous `.1` is dropped), so it stays bounded
 * while the scheduler still sees the recent past. A file written by an older version (which kept
 * whole requests, accounts included) is rewritten in this form the first time it is opened.
 */
export class RequestHistory {
  private ready: Promise<void> | undefined;
  /** Bytes in the file as far as this process knows (see `record`); undefined until first looked at. */
  private size: number | undefined;
  private readonly maxBytes: number;
  private readonly pseudonym: ((account: string) => string) | undefined;

  constructor(
    readonly file: string,
    options: { pseudonym?: (account: string) => string; maxBytes?: number } = {},
  ) {
    this.pseudonym = options.pseudonym;
    this.maxBytes = options.maxBytes ?? 4 * 1024 * 1024;
  }

  get rotated(): string {
    return `${this.file}.1`;
  }

  async record(input: HistoryRecord): Promise<void> {
    await this.open();
    const { account, ...rest } = input;
    const entry: HistoryEntry = { ...rest, ...(account !== undefined && this.pseudonym ? { accountPseudonym: this.pseudonym(account) } : {}) };
    // The size is known from what this process appended since it last looked (one append per
    // request, no stat); the file itself is asked only when that says it is time to rotate, since
    // another process may have rotated it or added to it meanwhile.
    this.size ??= await this.sizeOnDisk();
    if (this.size >= this.maxBytes) {
      this.size = await this.sizeOnDisk();
      if (this.size >= this.maxBytes) {
        await rename(this.file, this.rotated);
        this.size = 0;
      }
    }
    const line = `${JSON.stringify(entry)}\n`;
    await appendFile(this.file, line, { mode: 0o600 });
    this.size += Buffer.byteLength(line);
  }

  private async sizeOnDisk(): Promise<number> {
    return (await stat(this.file).catch(() => undefined))?.size ?? 0;
  }

  async load(): Promise<HistoryEntry[]> {
    await this.open();
    return [...(await this.read(this.rotated)), ...(await this.read(this.file))];
  }

  private async read(file: string): Promise<HistoryEntry[]> {
    let content: string;
    try {
      content = await readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    return content.split('\n').flatMap((line) => {
      const entry = line.trim() ? entryOf(line) : undefined;
      return entry ? [entry] : [];
    });
  }

  /** Once per process: the folder, 0600 on what is there, and old-format files rewritten without accounts. */
  private open(): Promise<void> {
    this.ready ??= (async () => {
      await mkdir(dirname(this.file), { recursive: true });
      for (const file of [this.file, this.rotated]) {
        const content = await readFile(file, 'utf8').catch(() => undefined);
        if (content === undefined) continue;
        await chmod(file, 0o600);
        if (!content.includes('"request"') && !content.includes('"account"')) continue;
        const entries = content.split('\n').flatMap((line) => {
          const entry = line.trim() ? entryOf(line) : undefined;
          return entry ? [JSON.stringify(entry)] : [];
        });
        const tmp = `${file}.rewrite`;
        await writeFile(tmp, entries.length ? `${entries.join('\n')}\n` : '', { mode: 0o600 });
        await rename(tmp, file).catch(async (e: unknown) => {
          await rm(tmp, { force: true });
          throw e;
        });
      }
    })().catch((e: unknown) => {
      this.ready = undefined;
      throw e;
    });
    return this.ready;
  }
}
