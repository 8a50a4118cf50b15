import { defaultHome, paths as pathsOf, type Paths } from '../core/config.js';
import { Grants } from '../grants/grants.js';
import { agentCredential } from '../grants/agent-credential.js';
import { openExternalRegistry, type ExternalRegistry } from '../registry/external-registry.js';
import { registryConfigFromEnv } from '../registry/registry-config.js';
import { openRegistry, type Registry } from '../registry/registry.js';
import { openPostgresStore } from '../store/postgres/postgres-store.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import type { TelemetryStore } from '../store/store.js';
import { createIngestion, type Ingestion } from '../telemetry/open-ingestion.js';
import { openRequestWorkflow } from '../workflow/open-request-workflow.js';
import type { RequestWorkflow } from '../workflow/request-workflow.js';
import { loadPrescientConfig, registryConfigOf, type PrescientConfig } from './prescient-config.js';
import { BuildQueue } from '../queue/build-queue.js';
import type { QueueConfig } from '../queue/queue-config.js';

export interface OpenPrescientOptions {
  /** PRESCIENT_HOME (default: the environment's, else ~/.prescient). */
  home?: string;
  /** The configuration; default: `<home>/config.json`, else the defaults. */
  config?: PrescientConfig;
  /** Address bits kept of IPv4/IPv6 addresses in telemetry (the ingesting commands' flags). */
  ipv4PrefixBits?: number;
  ipv6PrefixBits?: number;
  /** Where clients reach `serve` (`--public-url`): the token realm. */
  publicUrl?: string;
  /** The in-guest agent's server URL (`serve --agent-url`); without it no image carries the agent. */
  agentUrl?: string;
  maxParallelBuilds?: number;
  /** Where PRESCIENT_REGISTRY_* are read (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** The build queue of a flag or PRESCIENT_QUEUE_URL (`queueConfigFrom`): wins over `config.queue`. */
  queue?: QueueConfig;
}

/**
 * Prescient opened from its configuration: each part is opened on first use and kept, so a
 * command that only reads the registry never creates a database or a key. This is the one
 * place adapters are chosen (the store by `config.store`, the registry by `config.registry`).
 */
export interface Prescient {
  readonly home: string;
  readonly paths: Paths;
  readonly config: PrescientConfig;
  store(): Promise<TelemetryStore>;
  /** Only to read (`images ls`, `show`): creates nothing. */
  registry(options?: { readOnly?: boolean }): Promise<Registry>;
  grants(): Promise<Grants>;
  /** The registry shared with other machines (`registry: { kind: 'oci', … }`); undefined for `local`. */
  external(): Promise<ExternalRegistry | undefined>;
  /** Anonymiser, ingestor and consent over the store. */
  ingestion(): Promise<Ingestion>;
  workflow(): Promise<RequestWorkflow>;
  /** The queue builds go to (the option's, else the configuration's); undefined: builds run in process. */
  readonly queueConfig: QueueConfig | undefined;
  queue(): Promise<BuildQueue | undefined>;
  /** Closes what was opened (the store, the decode threads). */
  close(): Promise<void>;
}

export async function openPrescient(options: OpenPrescientOptions = {}): Promise<Prescient> {
  const home = options.home ?? defaultHome();
  const config = options.config ?? (await loadPrescientConfig(home));
  const paths = pathsOf(home);
  const once = <T>(open: () => Promise<T>): (() => Promise<T>) => {
    let opened: Promise<T> | undefined;
    return () => (opened ??= open());
  };
  let ingestionOpened = false;
  const ingestion = once(async () => {
    const opened = createIngestion({
      store: await store(),
      secretsDir: paths.secrets,
      ...(options.ipv4PrefixBits === undefined ? {} : { ipv4PrefixBits: options.ipv4PrefixBits }),
      ...(options.ipv6PrefixBits === undefined ? {} : { ipv6PrefixBits: options.ipv6PrefixBits }),
    });
    ingestionOpened = true;
    return opened;
  });
  let storeOpened: TelemetryStore | undefined;
  const store = once(async (): Promise<TelemetryStore> => {
    const s = config.store;
    switch (s.kind) {
      case 'sqlite':
        storeOpened = openSqliteStore({ file: paths.store });
        return storeOpened;
      case 'postgres':
        storeOpened = openPostgresStore({ url: s.url, ...(s.maxConnections === undefined ? {} : { maxConnections: s.maxConnections }) });
        return storeOpened;
    }
  });
  // The local layout is always there: with an external registry it is this machine's cache of it.
  const registryConfig = registryConfigOf(config, registryConfigFromEnv(options.env ?? process.env));
  const writableRegistry = once(() => openRegistry({ root: paths.registry }));
  const readOnlyRegistry = once(() => openRegistry({ root: paths.registry, readOnly: true }));
  const grants = once(() => Grants.open({ secretsDir: paths.secrets, ...(options.publicUrl === undefined ? {} : { publicUrl: options.publicUrl }) }));
  const external = once(async (): Promise<ExternalRegistry | undefined> => {
    switch (registryConfig.kind) {
      case 'local':
        return undefined;
      case 'oci': {
        // without a credentials file this home mints its own tokens (the registry trusts its certificate)
        const mintToken = registryConfig.credentialsFile === undefined ? (await grants()).adminToken : undefined;
        return openExternalRegistry({ config: registryConfig, local: await writableRegistry(), ...(mintToken ? { mintToken } : {}) });
      }
    }
  });
  const queueConfig = options.queue ?? config.queue;
  let queueOpened: BuildQueue | undefined;
  const queue = once(async () => (queueConfig ? (queueOpened = await BuildQueue.open(queueConfig)) : undefined));
  const workflow = once(async () => {
    const g = await grants();
    const q = await queue();
    const agentUrl = options.agentUrl;
    const shared = await external();
    return openRequestWorkflow({
      paths,
      registry: await writableRegistry(),
      grants: g,
      ...(shared ? { external: shared } : {}),
      telemetry: await ingestion(),
      ...(options.maxParallelBuilds ? { maxParallelBuilds: options.maxParallelBuilds } : {}),
      ...(q ? { queue: q } : {}),
      // The agent's credential may only write its own client's telemetry (a source credential).
      ...(agentUrl === undefined ? {} : { agent: { url: agentUrl, issueCredential: (clientId: string) => agentCredential({ credentials: g.credentials, secretsDir: paths.secrets, clientId }) } }),
    });
  });
  return {
    home,
    paths,
    config,
    store,
    registry: (o = {}) => (o.readOnly ? readOnlyRegistry() : writableRegistry()),
    grants,
    external,
    ingestion,
    workflow,
    queueConfig,
    queue,
    close: async () => {
      await queueOpened?.close();
      // The ingestion owns the store it was given; otherwise the store is closed here.
      if (ingestionOpened) await (await ingestion()).close();
      else if (storeOpened) await storeOpened.close();
    },
  };
}
