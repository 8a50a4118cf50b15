import type { TimeRange } from './store.js';

/** [from, to) of a TimeRange, open ends as the widest integers both adapters' columns hold. */
export function timeBounds(r: TimeRange | undefined): [number, number] {
  return [r?.fromMs ?? Number.MIN_SAFE_INTEGER, r?.toMs ?? Number.MAX_SAFE_INTEGER];
}
