import { toAppError } from '../core/errors.js';
import { habitHours, nextExpected } from './request-habits.js';
import type { RequestHistory } from './request-history.js';
import type { RequestWorkflow } from './request-workflow.js';

export interface ProactiveOptions {
  history: RequestHistory;
  workflow: Pick<RequestWorkflow, 'handle'>;
  /** Build for clients expected within this long (default 1 h). */
  leadMs?: number;
  now?: () => Date;
}

export interface TickReport {
  prepared: { clientId: string; expectedAt: string; source: string; digest?: string; error?: string }[];
}

/**
 * Builds ahead: at each tick, every client whose habit says it will ask within `leadMs` gets
 * its last request replayed through the workflow. The workflow does the rest — an image
 * already built for the current vector is a no-op (`prebuilt`), a changed vector (new model,
 * new data) is a rebuild, builds stay single-flight per (client, vector) and bounded.
 */
export class ProactiveScheduler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<TickReport> | undefined;

  constructor(private readonly options: ProactiveOptions) {}

  async tick(): Promise<TickReport> {
    // Ticks never overlap: a slow tick makes the next one wait, not pile up.
    if (this.running) return this.running;
    this.running = this.runTick().finally(() => (this.running = undefined));
    return this.running;
  }

  private async runTick(): Promise<TickReport> {
    const now = this.options.now?.() ?? new Date();
    const lead = this.options.leadMs ?? 60 * 60 * 1000;
    const byClient = new Map<string, { times: Date[]; last: (typeof entries)[number] }>();
    const entries = await this.options.history.load();
    for (const e of entries) {
      const c = byClient.get(e.clientId) ?? { times: [], last: e };
      c.times.push(new Date(e.at));
      if (e.at >= c.last.at) c.last = e;
      byClient.set(e.clientId, c);
    }
    const prepared: TickReport['prepared'] = [];
    await Promise.all(
      [...byClient].map(async ([clientId, c]) => {
        const expected = nextExpected(habitHours(c.times), now);
        if (!expected || expected.getTime() - now.getTime() > lead) return;
        try {
          // The identity recorded at the request is replayed as it was: the history keeps no account to identify from.
          const { category, matchedBy, base } = c.last;
          const identity = category && matchedBy ? { clientId, category, matchedBy } : undefined;
          const r = await this.options.workflow.handle({ clientId, ...(base ? { base } : {}) }, { proactive: true, ...(identity ? { identity } : {}) });
          prepared.push({ clientId, expectedAt: expected.toISOString(), source: r.source, digest: r.image.digest });
        } catch (e) {
          prepared.push({ clientId, expectedAt: expected.toISOString(), source: 'failed', error: toAppError(e).message });
        }
      }),
    );
    return { prepared };
  }

  start(intervalMs = 5 * 60 * 1000): void {
    this.timer ??= setInterval(() => void this.tick().catch(() => undefined), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
