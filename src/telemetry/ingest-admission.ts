import { TooManyRequestsError, ValidationError } from '../core/errors.js';

/**
 * What telemetry ingest holds at once: body bytes read or being read (they sit in memory until
 * their batch is written) and requests, in total and per credential. One client posting 80
 * bodies of 16 MiB at once held 1.3 GB and queued minutes of decoding and writing in front of
 * everyone else (GET /healthz took 17.8 s); past these bounds a body is refused before it is
 * read, with a 429 its sender retries later. No fastify plugin bounds bytes in flight per caller
 * (@fastify/rate-limit counts requests per time window, @fastify/under-pressure answers 503 to
 * everyone once the loop is already late), hence this small ledger.
 */
export interface IngestLimits {
  /** Body bytes in flight, all callers together. */
  bytes: number;
  /** Body bytes in flight for one credential (at least the largest body, or that body could never be taken). */
  bytesPerCredential: number;
  requests: number;
  requestsPerCredential: number;
  /** What a refusal tells the sender to wait (Retry-After), in seconds. */
  retryAfterSeconds?: number;
}

/** One admitted request: what it holds until `release`. */
export interface IngestTicket {
  /** Holds `total` bytes from now on (a body whose length was not declared grows as it is read); throws TooManyRequestsError past a bound. */
  hold(total: number): void;
  /** Gives back everything held; again is a no-op. */
  release(): void;
}

/** Which bound refused a request: the label of the refusals metric and `details.limit` of the 429. */
export const ingestLimitNames = ['bytes', 'bytesPerCredential', 'requests', 'requestsPerCredential'] as const;
export type IngestLimitName = (typeof ingestLimitNames)[number];

export interface IngestAdmission {
  /** A ticket for one request of `credential` that holds `bytes` (its declared length; 0 when unknown), or TooManyRequestsError. */
  admit(credential: string, bytes: number): IngestTicket;
  /** What is held now (metrics, tests). */
  inFlight(): { bytes: number; requests: number };
  /** Requests refused since start, by the bound that refused them (metrics). */
  refusals(): Record<IngestLimitName, number>;
}

export function createIngestAdmission(limits: IngestLimits): IngestAdmission {
  for (const [field, v] of Object.entries(limits)) if (!(typeof v === 'number' && v > 0)) throw new ValidationError(`ingest limits: ${field}`, 'expected a positive number');
  const retryAfterSeconds = limits.retryAfterSeconds ?? 1;
  const perCredential = new Map<string, { bytes: number; requests: number }>();
  const total = { bytes: 0, requests: 0 };
  const refused = Object.fromEntries(ingestLimitNames.map((n) => [n, 0])) as Record<IngestLimitName, number>;
  const refuse = (who: 'credential' | 'server', limit: number, unit: 'requests' | 'bytes'): TooManyRequestsError => {
    const name: IngestLimitName = `${unit}${who === 'credential' ? 'PerCredential' : ''}`;
    refused[name]++;
    const amount = unit === 'bytes' ? `${Math.round((limit / 1024 / 1024) * 10) / 10} MiB of bodies` : `${limit} requests`;
    const whose = who === 'credential' ? "this credential's telemetry" : 'telemetry of all callers';
    return new TooManyRequestsError(`telemetry: ${whose} in flight would pass ${amount}, the most this server takes at once; retry after ${retryAfterSeconds} s`, {
      rule: 'ingest-in-flight',
      limit: name,
      retryAfterSeconds,
    });
  };
  return {
    admit(credential, bytes) {
      const mine = perCredential.get(credential) ?? { bytes: 0, requests: 0 };
      if (mine.requests + 1 > limits.requestsPerCredential) throw refuse('credential', limits.requestsPerCredential, 'requests');
      if (total.requests + 1 > limits.requests) throw refuse('server', limits.requests, 'requests');
      mine.requests++;
      total.requests++;
      perCredential.set(credential, mine);
      let held = 0;
      let released = false;
      const ticket: IngestTicket = {
        hold(want) {
          if (released || want <= held) return;
          const more = want - held;
          if (mine.bytes + more > limits.bytesPerCredential) throw refuse('credential', limits.bytesPerCredential, 'bytes');
          if (total.bytes + more > limits.bytes) throw refuse('server', limits.bytes, 'bytes');
          mine.bytes += more;
          total.bytes += more;
          held = want;
        },
        release() {
          if (released) return;
          released = true;
          mine.bytes -= held;
          total.bytes -= held;
          mine.requests--;
          total.requests--;
          if (mine.requests === 0) perCredential.delete(credential);
        },
      };
      try {
        ticket.hold(bytes);
      } catch (e) {
        ticket.release();
        throw e;
      }
      return ticket;
    },
    inFlight: () => ({ ...total }),
    refusals: () => ({ ...refused }),
  };
}
