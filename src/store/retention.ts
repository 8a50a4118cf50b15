import { ValidationError } from '../core/errors.js';
import type { TelemetryStore } from './store.js';

/**
 * How long telemetry is kept: raw events for `rawDays`, 5-minute rollups for `rollupDays`
 * (longer: they are what prediction reads). Either may be absent, meaning "keep".
 */
export interface RetentionPolicy {
  rawDays?: number | undefined;
  rollupDays?: number | undefined;
}

const dayMs = 24 * 60 * 60 * 1000;

/** `names`: what the caller's user calls each field (serve's flags), for the error. */
export function validateRetention(p: RetentionPolicy, names: Record<keyof RetentionPolicy, string> = { rawDays: 'rawDays', rollupDays: 'rollupDays' }): RetentionPolicy {
  for (const field of ['rawDays', 'rollupDays'] as const) {
    const v = p[field];
    if (v !== undefined && !(Number.isFinite(v) && v > 0)) throw new ValidationError(names[field], 'expected a positive number of days');
  }
  if (p.rawDays !== undefined && p.rollupDays !== undefined && p.rollupDays < p.rawDays) {
    throw new ValidationError(names.rollupDays, `rollups must be kept at least as long as raw events (${names.rawDays})`);
  }
  return p;
}

export async function applyRetention(store: TelemetryStore, p: RetentionPolicy, nowMs = Date.now()): Promise<{ rawDeleted: number; rollupsDeleted: number }> {
  return store.prune({
    ...(p.rawDays === undefined ? {} : { rawBeforeMs: nowMs - p.rawDays * dayMs }),
    ...(p.rollupDays === undefined ? {} : { rollupsBeforeMs: nowMs - p.rollupDays * dayMs }),
  });
}
