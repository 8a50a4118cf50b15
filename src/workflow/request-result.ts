import type { Digest } from '../core/digest.js';
import type { Identity, IdentifyRequest } from '../identify/identify.js';
import type { MachineCredentials } from '../pipeline/spec/machine-seed.js';
import type { VmSpec } from '../pipeline/vm-spec.js';
import type { ImageSource } from './request-outcomes.js';
import type { WorkflowEvent } from './workflow-event.js';

export interface ImageRequest extends IdentifyRequest {
  /** Base image name (`debian-12`); the default base when omitted. */
  base?: string | undefined;
}

export interface RunOptions {
  signal?: AbortSignal;
  onEvent?: (e: WorkflowEvent) => void;
  authorizeClient?: (identity: Identity) => void;
  /** A build ahead (`prepare`, the scheduler), not a client's request: not recorded in the history. */
  proactive?: boolean;
  /** The HTTP request this answers: its outcome line keeps it, so the dashboard tells a client of a server-side failure what the answer did. */
  requestId?: string;
  /** A replay by the proactive scheduler names the identity it recorded (the history keeps no account to identify from again). */
  identity?: Identity;
}

export interface RequestResult {
  clientId: string;
  category: string;
  matchedBy: string;
  vectorDigest: Digest;
  /** What the image holds (the digest of the pipeline's plan); equal plans share one image. */
  planDigest: Digest;
  source: ImageSource;
  /** `registry`: the shared registry's host[:port] clients pull from (the grant opens the repository there too); absent: this server's /v2/. */
  image: { repository: string; reference: string; registry?: string; digest: Digest; version?: number; tags: string[] };
  vmSpec: VmSpec | undefined;
  /** Set when source is `last-good`: why the predicted image could not be built. */
  buildError?: { code: string; message: string; serverSide?: true };
  grant: { token: string; expires_in: number; issued_at: string; scope: string };
  /**
   * The per-request cloud-init NoCloud seed (`meta-data`, `user-data`): what is this client's and
   * this version's and never in a layer. With in-guest consent it carries the agent's server URL,
   * telemetry-only credential and the image digest its events carry.
   */
  seed: { 'meta-data': string; 'user-data': string };
  /**
   * What the machine's user needs beside the seed: its login name and the generated password of
   * each protected service (Redis, PostgreSQL, MariaDB), for this request's seed only.
   */
  credentials: MachineCredentials;
  /** Whether the image carries the in-guest agent (the client granted in-guest consent). */
  inGuestAgent: boolean;
  timings: { identifyMs: number; predictMs: number; imageMs: number; totalMs: number };
}
