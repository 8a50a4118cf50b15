import type { Digest } from '../core/digest.js';
import type { PersonalizeEvent } from '../pipeline/personalize.js';

/** What a request goes through, in order, as it happens (the SSE stream of POST /v1/requests, `prepare`'s progress). */
export type WorkflowEvent =
  | { type: 'identified'; clientId: string; category: string; matchedBy: string; ms: number }
  | { type: 'predicted'; vectorDigest: Digest; planDigest: Digest; ms: number }
  | { type: 'build'; state: 'prebuilt' | 'queued' | 'started' | 'retrying' | 'joined' | 'failed'; message?: string; serverSide?: true }
  | { type: 'pipeline'; event: PersonalizeEvent }
  | { type: 'registered'; digest: Digest; version: number; ms: number };
