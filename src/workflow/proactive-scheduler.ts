import { toAppError } from '../core/errors.js';
import { sessionsOf } from '../predict/request-timing/evaluate-timing.js';
import { adaptiveWindow } from '../predict/request-timing/timing-policies.js';
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
 * The adaptive window's cost per unused minute, as chosen on the training part of the Borg 2011
 * request streams (docs/prediction.md, "When a client asks"): the measured policy that is cold
 * less often than the hybrid histogram at less prepared-but-unused time.
 */
export const schedulerCostPerMinute = 0.003;

/**
 * When the adaptive window (learnt from the client's own gaps between sessions) wants the image
 * ready: its opening, when that is within `leadMs` and the window has not closed yet.
 */
export function windowDue(times: readonly Date[], now: Date, leadMs: number): Date | undefined {
  const sessions = sessionsOf(times.map((t) => t.getTime() / 1000).sort((a, b) => a - b));
  const last = sessions[sessions.length - 1];
  if (!last) return undefined;
  const policy = adaptiveWindow(schedulerCostPerMinute).create();
  for (let i = 1; i < sessions.length; i++) policy.observe((sessions[i]!.start - sessions[i - 1]!.end) / 60);
  const { from, to } = policy.window();
  const opens = last.end * 1000 + from * 60_000;
  if (now.getTime() > last.end * 1000 + to * 60_000 || opens - now.getTime() > leadMs) return undefined;
  return new Date(Math.max(opens, now.getTime()));
}

/**
 * Builds ahead: at each tick, every client whose habit (the hours of day it asks in) or whose
 * adaptive window (the gaps between its sessions) says it will ask within `leadMs` gets
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
        const byHabit = nextExpected(habitHours(c.times), now);
        const candidates = [byHabit && byHabit.getTime() - now.getTime() <= lead ? byHabit : undefined, windowDue(c.times, now, lead)].filter((d): d is Date => d !== undefined);
        if (candidates.length === 0) return;
        const expected = new Date(Math.min(...candidates.map((d) => d.getTime())));
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
