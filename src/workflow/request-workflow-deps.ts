import type { Grants } from '../grants/grants.js';
import type { IdentifyConfig } from '../identify/rules.js';
import type { BaseRef } from '../pipeline/personalize.js';
import type { SeedLogin } from '../pipeline/spec/cloud-init.js';
import type { PolicySource } from '../policy/policy.js';
import type { Predictor } from '../contracts/predictor.js';
import type { Registry } from '../registry/registry.js';
import type { ImageBuilder } from './image-builder.js';
import type { RequestHistory } from './request-history.js';
import type { RequestOutcomes } from './request-outcomes.js';

/**
 * The registry shared with other homes (ExternalRegistry): when the local `latest` does not
 * answer, its `latest` is brought here and tried, so a version another machine built is a
 * prebuilt hit; `address` is where clients pull (`image.registry` in the answer).
 */
export interface SharedRegistry {
  address: string;
  syncLatest(repository: string, signal?: AbortSignal): Promise<unknown>;
}

export interface RequestWorkflowDeps {
  identifyConfig: IdentifyConfig;
  predictor: Predictor;
  registry: Registry;
  grants: Grants;
  builder: ImageBuilder;
  /** Base name → the base image (catalog lookup; `findBase(paths.bases, name)` in production). */
  resolveBase: (name: string) => Promise<BaseRef & { name: string }>;
  defaultBase?: string;
  /**
   * A failed build is tried again after `baseDelayMs`, doubling each time, `attempts` in all
   * (default 3 attempts from 2 s). Invalid input (VALIDATION, NOT_FOUND, UNSAFE_PATH) is not retried.
   */
  retry?: { attempts: number; baseDelayMs: number };
  /**
   * The category telemetry recorded for a client (from the store), for a client no rule
   * recognises: a client the store knows is not unknown, so it keeps its own category.
   */
  categoryOf?: (clientId: string) => Promise<string | undefined>;
  /** Where client requests are recorded for the proactive scheduler (none: not recorded). */
  history?: RequestHistory;
  /**
   * The admin policy (`<home>/policy.json`, re-read when it changes): the bases clients may ask
   * for, and what a predicted vector may contain. The safe default when omitted.
   */
  policy?: PolicySource;
  /** Where every answer (and failure after identification) is recorded for the dashboard (none: not recorded). */
  outcomes?: RequestOutcomes;
  now?: () => Date;
  /** Builds running at once across all clients (each holds a qemu/NBD session). */
  maxParallelBuilds?: number;
  /** Whether the client granted in-guest consent (none: never; images then carry no agent). */
  inGuestConsent?: (clientId: string) => Promise<boolean>;
  /** The client's registered login (user and SSH keys) for its seed (none: a machine nobody logs in to). */
  login?: (clientId: string) => Promise<SeedLogin | undefined>;
  /**
   * Where the agent reports to, as the guest reaches the server, and a credential that may only
   * write this client's telemetry (issued per request; it travels only in the seed).
   */
  agent?: { url: string; issueCredential: (clientId: string) => Promise<{ username: string; secret: string }> };
  shared?: SharedRegistry;
}
