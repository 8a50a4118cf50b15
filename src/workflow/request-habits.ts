/**
 * When a client tends to ask: the UTC hours of day in which it asked on at least `minDays`
 * different days. A deliberately simple model — daily habits are what the traces show most.
 */
export function habitHours(times: readonly Date[], minDays = 2): number[] {
  const daysByHour = new Map<number, Set<string>>();
  for (const t of times) {
    const hour = t.getUTCHours();
    const days = daysByHour.get(hour) ?? new Set<string>();
    days.add(t.toISOString().slice(0, 10));
    daysByHour.set(hour, days);
  }
  return [...daysByHour].filter(([, days]) => days.size >= minDays).map(([h]) => h).sort((a, b) => a - b);
}

/** The next start of one of `hours` after `now` (undefined without habits). */
export function nextExpected(hours: readonly number[], now: Date): Date | undefined {
  let best: Date | undefined;
  for (const h of hours) {
    const t = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), h));
    if (t.getTime() <= now.getTime()) t.setUTCDate(t.getUTCDate() + 1);
    if (!best || t < best) best = t;
  }
  return best;
}
