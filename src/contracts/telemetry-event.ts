import { z } from 'zod';
import { categorySchema } from './category.js';
import { imageDigestSchema } from './identifiers.js';
import { toIssues } from '../core/field-issues.js';

/**
 * The TelemetryEvent contract: one validated observation about a subject (a user, a client or
 * a VM). Five kinds, each a flat object so that a JSON line stays readable. This is the shape
 * that arrives (identifiers in clear); anonymise.ts turns it into an AnonymisedEvent, which is
 * the only shape the store ever sees.
 */
export const eventKinds = ['resource', 'launch', 'command', 'flow', 'access'] as const;
export type EventKind = (typeof eventKinds)[number];

/** Where an observation was made. Only `agent` (inside a guest) needs the subject's consent. */
export const eventSources = ['hypervisor', 'app-log', 'agent'] as const;
export type EventSource = (typeof eventSources)[number];

export const subjectKinds = ['user', 'client', 'vm'] as const;
export type SubjectKind = (typeof subjectKinds)[number];

/** The numeric fields of a resource sample; rollups and the store iterate over this list. */
export const resourceFields = [
  'cpuCores', // logical CPUs the subject had
  'cpuPercent', // utilisation of those CPUs, 0–100
  'memoryBytes', // memory in use
  'memoryTotalBytes', // memory the subject had
  'diskReadBps', // bytes per second
  'diskWriteBps',
  'netInBps',
  'netOutBps',
] as const;
export type ResourceField = (typeof resourceFields)[number];

export interface Subject {
  kind: SubjectKind;
  id: string;
}

interface EventBase {
  /** Epoch milliseconds. */
  time: number;
  subject: Subject;
  category?: string | undefined;
  source: EventSource;
  /**
   * The digest of the image version the observation was made in (`sha256:…` or `sha512:…`, the
   * registry's manifest digest). Set by the in-guest agent, which learns it from its seed, so that every
   * observation can be scored against what that version predicted (src/accuracy/).
   */
  image?: string | undefined;
}

/**
 * What became of a command or an inbound connection, when it was not the plain case: a command
 * `not-found` in the guest (bash's command_not_found_handle), a port seen `listening`, a
 * connection `refused` because nothing listened on its port.
 */
export const commandOutcomes = ['not-found'] as const;
export type CommandOutcome = (typeof commandOutcomes)[number];
export const flowOutcomes = ['listening', 'refused'] as const;
export type FlowOutcome = (typeof flowOutcomes)[number];
export type EventOutcome = CommandOutcome | FlowOutcome;

/**
 * A data access target in the package database: `dpkg:NAME` is package NAME installed in the
 * guest after delivery (the agent reads it from dpkg.log). Every other target is a path or a URI.
 */
export const installedPackagePrefix = 'dpkg:';

export type ResourceSample = EventBase & { kind: 'resource' } & Partial<Record<ResourceField, number>>;
export interface AppLaunch extends EventBase {
  kind: 'launch';
  executable: string;
  user?: string | undefined;
  session?: string | undefined;
}
export interface CommandEvent extends EventBase {
  kind: 'command';
  /** A command line; only its program name is kept. */
  command: string;
  /** Position in the subject's stream when the source has no clock precise enough to order by. */
  seq?: number | undefined;
  session?: string | undefined;
  /** A task (job, script, pipeline step) the command belongs to. */
  task?: string | undefined;
  outcome?: CommandOutcome | undefined;
}
export interface NetworkFlow extends EventBase {
  kind: 'flow';
  direction: 'in' | 'out';
  protocol: string;
  port: number;
  /** Remote host name, IP address or CIDR prefix; addresses are cut to a prefix. */
  remote: string;
  bytes: number;
  outcome?: FlowOutcome | undefined;
}
export interface DataAccess extends EventBase {
  kind: 'access';
  /** A path or a dataset URI. */
  target: string;
  bytes: number;
  op?: 'read' | 'write' | undefined;
}

export type TelemetryEvent = ResourceSample | AppLaunch | CommandEvent | NetworkFlow | DataAccess;

// ---------------------------------------------------------------------------------------------
// Wire schema (zod). Accepts `time` as epoch ms or ISO 8601, `subject` as "kind:id" or an object.
// Messages never quote the offending value: it may be personal data, and errors reach logs.

const text = (max: number) => z.string().min(1).max(max);
const nonNegative = z.number().finite().nonnegative();

export const subjectSchema = z.union([
  z.object({ kind: z.enum(subjectKinds), id: text(1024) }),
  z
    .string()
    .max(1100)
    .transform((s, ctx): Subject => {
      const i = s.indexOf(':');
      const kind = s.slice(0, i) as SubjectKind;
      if (i <= 0 || i === s.length - 1 || !subjectKinds.includes(kind)) {
        ctx.addIssue({ code: 'custom', message: `expected "user:ID", "client:ID" or "vm:ID"` });
        return z.NEVER;
      }
      return { kind, id: s.slice(i + 1) };
    }),
]);

/**
 * Times are kept from 1970 to the year 4000: the store packs a 5-minute bucket into 28 bits of a
 * rollup key (enough until 4521), and nothing real is outside.
 */
export const latestEventTimeMs = Date.UTC(4000, 0, 1);
/** Why a time is refused, or undefined. */
export function timeProblem(ms: number): string | undefined {
  if (!(ms >= 0)) return 'before 1970';
  if (!(ms < latestEventTimeMs)) return 'after the year 3999';
  return undefined;
}
const timeSchema = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const fail = (message: string): never => {
    ctx.addIssue({ code: 'custom', message });
    return z.NEVER;
  };
  let ms = v as number;
  if (typeof v === 'string') {
    ms = Date.parse(v);
    if (!Number.isFinite(ms) || !/^\d{4}-\d{2}-\d{2}/.test(v)) return fail('expected epoch milliseconds or an ISO 8601 time');
  } else if (!Number.isInteger(v)) return fail('expected whole epoch milliseconds or an ISO 8601 time');
  const problem = timeProblem(ms);
  return problem === undefined ? ms : fail(problem);
});


const base = {
  time: timeSchema,
  subject: subjectSchema,
  category: categorySchema.optional(),
  source: z.enum(eventSources),
  image: imageDigestSchema.optional(),
};

const resourceShape = Object.fromEntries(resourceFields.map((f) => [f, nonNegative.optional()])) as Record<
  ResourceField,
  z.ZodOptional<typeof nonNegative>
>;

const resourceSchema = z
  .object({ kind: z.literal('resource'), ...base, ...resourceShape })
  .refine((e) => resourceFields.some((f) => e[f] !== undefined), { message: `a resource sample needs at least one of ${resourceFields.join(', ')}` });

const launchSchema = z.object({
  kind: z.literal('launch'),
  ...base,
  executable: text(4096),
  user: text(1024).optional(),
  session: text(1024).optional(),
});

const commandSchema = z.object({
  kind: z.literal('command'),
  ...base,
  command: text(65536),
  seq: z.number().int().nonnegative().optional(),
  session: text(1024).optional(),
  task: text(1024).optional(),
  outcome: z.enum(commandOutcomes).optional(),
});

const flowSchema = z.object({
  kind: z.literal('flow'),
  ...base,
  direction: z.enum(['in', 'out']),
  protocol: z.string().regex(/^[a-z][a-z0-9-]{0,15}$/, 'expected a protocol name such as tcp, udp, icmp'),
  port: z.number().int().min(0).max(65535),
  remote: text(1024),
  bytes: nonNegative,
  outcome: z.enum(flowOutcomes).optional(),
});

const accessSchema = z.object({
  kind: z.literal('access'),
  ...base,
  target: text(4096),
  bytes: nonNegative,
  op: z.enum(['read', 'write']).optional(),
});

export const telemetryEventSchema = z.discriminatedUnion('kind', [resourceSchema, launchSchema, commandSchema, flowSchema, accessSchema]);

export type ParseEventResult = { ok: true; event: TelemetryEvent } | { ok: false; reason: string };

/** Validates one decoded JSON value; the reason names the field path and never the value. */
export function parseEvent(value: unknown): ParseEventResult {
  const r = telemetryEventSchema.safeParse(value);
  if (r.success) return { ok: true, event: r.data as TelemetryEvent };
  return { ok: false, reason: describeIssues(r.error) };
}

/** A record's first five problems in one line, each named by its field as every edge names one. */
export function describeIssues(error: z.ZodError): string {
  return toIssues(error)
    .slice(0, 5)
    .map((i) => `${i.path}: ${i.message}`)
    .join('; ');
}
