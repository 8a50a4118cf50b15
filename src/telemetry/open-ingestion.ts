import type { TelemetryStore } from '../store/store.js';
import { createAnonymiser, type Anonymiser } from './anonymise.js';
import { createConsent, type Consent } from './consent.js';
import { createDecodePool } from './decode-pool.js';
import { createIngestor, type Ingestor } from './ingest.js';
import { loadOrCreateKeyring } from './pseudonym-keys.js';

export interface Ingestion {
  store: TelemetryStore;
  anonymiser: Anonymiser;
  ingestor: Ingestor;
  consent: Consent;
  /** Stops the decode threads and closes the store (the ingestion owns the store it was given). */
  close(): Promise<void>;
}

export interface IngestionOptions {
  /** Whatever adapter the configuration chose (src/app/open-prescient.ts picks it, never telemetry). */
  store: TelemetryStore;
  /** Where the pseudonym keys are kept (paths().secrets). */
  secretsDir: string;
  ipv4PrefixBits?: number;
  ipv6PrefixBits?: number;
}

/** Everything ingestion needs around a store: the anonymiser, the ingestor and consent. */
export function createIngestion(options: IngestionOptions): Ingestion {
  const anonymisation = {
    keyring: loadOrCreateKeyring(options.secretsDir),
    ...(options.ipv4PrefixBits === undefined ? {} : { ipv4PrefixBits: options.ipv4PrefixBits }),
    ...(options.ipv6PrefixBits === undefined ? {} : { ipv6PrefixBits: options.ipv6PrefixBits }),
  };
  const anonymiser = createAnonymiser(anonymisation);
  const { store } = options;
  // Its threads start with the first body (serve); a CLI import never starts them.
  const decodePool = createDecodePool(anonymisation);
  return {
    store,
    anonymiser,
    ingestor: createIngestor({ store, anonymiser, decodePool }),
    consent: createConsent({ store, anonymiser }),
    close: async () => {
      await decodePool.close();
      await store.close();
    },
  };
}
