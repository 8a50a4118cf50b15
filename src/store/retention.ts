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

export function validateRetention(p: RetentionPolicy): RetentionPolicy {
  for (const [field, v] of Object.entries(p)) {
    if (v !== undefined && !(Number.isFinite(v) && v > 0)) throw new ValidationError(field, 'expected a positive number of days');
  }
  if (p.rawDays !== undefined && p.rollupDays !== undefined && p.rollupDays < p.rawDays) {
    throw new ValidationError('rollupDays', 'rollups must be kept at least as long as raw events');
  }
  return p;
}

export async function applyRetention(store: TelemetryStore, p: RetentionPolicy, nowMs = Date.now()): Promise<{ rawDeleted: number; rollupsDeleted: number }> {
  return store.prune({
    ...(p.rawDays === undefined ? {} : { rawBeforeMs: nowMs - p.rawDays * dayMs }),
    ...(p.rollupDays === undefined ? {} : { rollupsBeforeMs: nowMs - p.rollupDays * dayMs }),
  });
}
