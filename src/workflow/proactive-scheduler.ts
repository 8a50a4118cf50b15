import { toAppError } from '../core/errors.js';
import { budgetController, type BudgetControllerOptions } from '../predict/request-timing/budget-controller.js';
import { sessionsOf } from '../predict/request-timing/evaluate-timing.js';
import { hazardWindow, pooledHazard } from '../predict/request-timing/hazard-window.js';
import { replayInTime } from '../predict/request-timing/replay-in-time.js';
import { clockHazard } from '../predict/request-timing/timing-candidates.js';
import { habitHours, nextExpected } from './request-habits.js';
import type { RequestHistory } from './request-history.js';
import type { RequestWorkflow } from './request-workflow.js';

export interface ProactiveOptions {
  history: RequestHistory;
  workflow: Pick<RequestWorkflow, 'handle'>;
  /** Build for clients expected within this long (default 1 h). */
  leadMs?: number;
  /**
   * Prepared-but-unused minutes per session to spend, across every client: the hazard threshold is
   * then the budget controller's after the whole history replayed in time order (one threshold for
   * all clients, highest hazard first). Unset: the fixed schedulerHazardThreshold.
   */
  unusedMinutesPerSession?: number;
  now?: () => Date;
}

export interface TickReport {
  prepared: { clientId: string; expectedAt: string; source: string; digest?: string; error?: string }[];
}

/**
 * The clock-aware hazard window's threshold (starts per minute), as chosen on the training part
 * of the Borg 2011 request streams (docs/prediction.md, "When a client asks"): the policy coldest
 * there at no more prepared-but-unused time than the hybrid histogram, in the form that needs no
 * program names (the request history keeps none, so the periodic-jobs windows do not apply).
 */
export const schedulerHazardThreshold = 0.0025;

/** The budget controller's knobs as chosen on the Borg validation part (docs/prediction.md, "The budget controller"). */
export const schedulerBudgetKnobs: Required<BudgetControllerOptions> = { gain: 0.03, windowSessions: 500, startThreshold: schedulerHazardThreshold, targetShare: 1 };

/**
 * The threshold that spends `minutesPerSession` unused minutes per session: every client's
 * history (trace seconds, sorted) replayed in time order under the budget controller, read at the
 * end. With little history it stays near the controller's start.
 */
export function budgetedThreshold(streams: ReadonlyMap<string, readonly number[]>, minutesPerSession: number, prior: readonly number[], knobs: BudgetControllerOptions = schedulerBudgetKnobs): number {
  const controller = budgetController(knobs);
  replayInTime(streams, hazardWindow(controller.threshold, { ...clockHazard, prior }), { budget: { controller, minutesPerSession } });
  return controller.threshold();
}

/**
 * When the clock-aware hazard window (learnt from the client's own gaps between sessions and the
 * hours they ended in) wants the image ready: the opening of its next window that has not closed
 * yet, when that is within `leadMs`. `prior`: the hazard per bin pooled over every client (see
 * pooledHazard), what a client with little history shrinks to (default: this client's own).
 */
export function windowDue(times: readonly Date[], now: Date, leadMs: number, prior?: readonly number[], threshold = schedulerHazardThreshold): Date | undefined {
  const seconds = times.map((t) => t.getTime() / 1000).sort((a, b) => a - b);
  const sessions = sessionsOf(seconds);
  const last = sessions[sessions.length - 1];
  if (!last) return undefined;
  // Without a population, the client's own pooled hazard: bins its gaps never reached stay at zero
  // (its mean rate would prepare every minute it has never been seen back in).
  const policy = hazardWindow(threshold, { ...clockHazard, prior: prior ?? pooledHazard(new Map([['client', seconds]])) }).create();
  for (let i = 1; i < sessions.length; i++) policy.observe((sessions[i]!.start - sessions[i - 1]!.end) / 60, sessions[i]!.start);
  const next = policy.intervals!(last.end).find((w) => last.end * 1000 + w.to * 60_000 >= now.getTime());
  if (!next) return undefined;
  const opens = last.end * 1000 + next.from * 60_000;
  if (opens - now.getTime() > leadMs) return undefined;
  return new Date(Math.max(opens, now.getTime()));
}

/**
 * Builds ahead: at each tick, every client whose habit (the hours of day it asks in) or whose
 * hazard window (the gaps between its sessions) says it will ask within `leadMs` gets
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
    // The population's hazard, what a client with little history of its own shrinks to.
    const streams = new Map([...byClient].map(([id, c]) => [id, c.times.map((t) => t.getTime() / 1000).sort((a, b) => a - b)] as const));
    const prior = pooledHazard(streams);
    const budget = this.options.unusedMinutesPerSession;
    const threshold = budget === undefined ? schedulerHazardThreshold : budgetedThreshold(streams, budget, prior);
    const prepared: TickReport['prepared'] = [];
    await Promise.all(
      [...byClient].map(async ([clientId, c]) => {
        const byHabit = nextExpected(habitHours(c.times), now);
        const candidates = [byHabit && byHabit.getTime() - now.getTime() <= lead ? byHabit : undefined, windowDue(c.times, now, lead, prior, threshold)].filter((d): d is Date => d !== undefined);
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
