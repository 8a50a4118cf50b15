import { paths as pathsOf } from '../core/config.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
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
  close(): Promise<void>;
}

export interface OpenIngestionOptions {
  /** PRESCIENT_HOME; the store and the pseudonym keys are found from it. */
  home?: string;
  ipv4PrefixBits?: number;
  ipv6PrefixBits?: number;
}

/** Everything ingestion needs, wired from the installation's home (used by the CLI and serve). */
export function openIngestion(options: OpenIngestionOptions = {}): Ingestion {
  const p = pathsOf(options.home);
  const anonymisation = {
    keyring: loadOrCreateKeyring(p.secrets),
    ...(options.ipv4PrefixBits === undefined ? {} : { ipv4PrefixBits: options.ipv4PrefixBits }),
    ...(options.ipv6PrefixBits === undefined ? {} : { ipv6PrefixBits: options.ipv6PrefixBits }),
  };
  const anonymiser = createAnonymiser(anonymisation);
  const store = openSqliteStore({ file: p.store });
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
