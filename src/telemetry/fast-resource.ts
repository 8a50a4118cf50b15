import { categoryPattern } from '../contracts/category.js';
import { eventSources, latestEventTimeMs, resourceFields, subjectKinds, type EventSource, type ResourceSample, type SubjectKind } from '../contracts/telemetry-event.js';

/**
 * A fast path for the commonest record on the wire: a resource sample with epoch-ms time and a
 * "kind:id" subject. It accepts a strict subset of what telemetryEventSchema accepts and builds
 * the same event; anything it is unsure of returns undefined and goes through zod, which also
 * writes the error messages. fast-resource.test.ts checks the two agree.
 */
const allowed = new Set<string>(['kind', 'time', 'subject', 'category', 'source', ...resourceFields]);

export function fastResource(v: unknown): ResourceSample | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  if (o.kind !== 'resource') return undefined;
  let fields = 0;
  for (const k in o) {
    if (!allowed.has(k)) return undefined;
    fields++;
  }
  const time = o.time;
  if (typeof time !== 'number' || !Number.isInteger(time) || time < 0 || time >= latestEventTimeMs) return undefined;
  const subject = o.subject;
  if (typeof subject !== 'string' || subject.length > 1100) return undefined;
  const colon = subject.indexOf(':');
  const kind = subject.slice(0, colon) as SubjectKind;
  const id = subject.slice(colon + 1);
  if (colon <= 0 || id.length === 0 || id.length > 1024 || !subjectKinds.includes(kind)) return undefined;
  const source = o.source as EventSource;
  if (!eventSources.includes(source)) return undefined;
  const category = o.category;
  if (category !== undefined && (typeof category !== 'string' || !categoryPattern.test(category))) return undefined;
  const e: ResourceSample = { kind: 'resource', time, subject: { kind, id }, source };
  if (category !== undefined) e.category = category;
  let any = false;
  for (const f of resourceFields) {
    const x = o[f];
    if (x === undefined) continue;
    if (typeof x !== 'number' || !Number.isFinite(x) || x < 0) return undefined;
    e[f] = x;
    any = true;
  }
  return any && fields > 0 ? e : undefined;
}
