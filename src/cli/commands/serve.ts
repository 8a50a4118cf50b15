import type { Command } from 'commander';
import { listBases, namesOnOutdatedBases } from '../../image/bases/catalog.js';
import { ValidationError } from '../../core/errors.js';
import { createPredictor } from '../../predict/predict-vector.js';
import { pino } from 'pino';
import { createApp, listen } from '../../server/app.js';
import type { RouteSet } from '../../server/router.js';
import { ociRoutes } from '../../server/routes/oci.js';
import { categorySizeRule, predictRoutes } from '../../server/routes/predict.js';
import { defaultIngestLimits, telemetryRoutes } from '../../server/routes/telemetry.js';
import type { IngestLimits } from '../../telemetry/ingest-admission.js';
import { tokenRoutes } from '../../server/routes/token.js';
import { healthRoutes } from '../../server/routes/health.js';
import { credentialRoutes } from '../../server/routes/credentials.js';
import { sshKeyRoutes } from '../../server/routes/ssh-keys.js';
import { sshKeyStoreAt } from '../../login/ssh-key-store.js';
import { requestRoutes } from '../../server/routes/requests.js';
import { routeTableRoutes } from '../../server/routes/route-table.js';
import { openApiRoutes } from '../../server/routes/openapi-route.js';
import { prescientVersion } from '../version.js';
import { createServerMetrics } from '../../server/metrics.js';
import { dashboardRoutes } from '../../server/routes/dashboard.js';
import { sessionRoutes } from '../../server/routes/session.js';
import { uiBuildDir, uiRoutes } from '../../server/routes/ui-assets.js';
import { DashboardReader } from '../../dashboard/dashboard-reader.js';
import { RequestOutcomes } from '../../workflow/request-outcomes.js';
import { workflowConfigFiles } from '../../workflow/open-request-workflow.js';
import { storeHistory } from '../../predict/store-history.js';
import { loadTf } from '../../predict/tf.js';
import { ProactiveScheduler } from '../../workflow/proactive-scheduler.js';
import { applyRetention, validateRetention } from '../../store/retention.js';
import { openPrescient } from '../../app/open-prescient.js';
import { addHistoryOptions, openHistory, type HistoryFlags } from '../history-option.js';
import { addAnonymisationOptions, anonymisationOptions } from '../ingestion-options.js';
import { policyFile, policySource } from '../../policy/policy.js';
import { emit } from '../output.js';
import { cliSignal } from '../signal.js';
import type { CommandRegistration } from './command-registration.js';
import { agentSeedSchema } from '../../guest/agent-seed.js';
import { join } from 'node:path';
import { clientAccuracy } from '../../accuracy/client-accuracy.js';
import { accuracyRoutes } from '../../server/routes/accuracy.js';
import { programPackages } from '../../predict/program-packages.js';
import type { PackageIndex } from '../../predict/package-index.js';
import { readFile } from 'node:fs/promises';
import { redactedUrl } from '../../queue/build-queue.js';
import { queueConfigFrom, queueUrlVariable } from '../../queue/queue-config.js';

interface ServeOptions extends HistoryFlags {
  auth: boolean;
  port: string;
  host: string;
  maxBodyMib: string;
  maxInflightMib?: string;
  maxInflightMibPerCredential?: string;
  maxInflightRequests: string;
  maxInflightRequestsPerCredential: string;
  retainRawDays?: string;
  retainRollupsDays?: string;
  ipv4Prefix: string;
  ipv6Prefix: string;
  publicUrl?: string;
  agentUrl: string;
  queueUrl?: string;
  tlsCert?: string;
  tlsKey?: string;
  unusedMinutesPerSession?: string;
}

/**
 * One process serves every HTTP route: telemetry ingestion, the OCI distribution API over the
 * local registry, and (when a history source is given) usage vectors.
 */
export const serveCommand: CommandRegistration = (program) => {
  const cmd = program
    .command('serve')
    .description(
      'run the HTTP API: POST /v1/requests (identify → predict → personalise → register → grant), GET /v1/token (the Docker token flow), ' +
        'the OCI distribution API (/v2/, pull-only per client), telemetry (POST /v1/telemetry, OTLP/HTTP protobuf or JSON on /v1/metrics), usage vectors, /healthz (liveness), /readyz (store and queue answer), /metrics, /openapi.json (every route, generated from the schemas they validate with)',
    )
    .option('-p, --port <port>', 'TCP port (0 picks a free one)', '5080')
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--public-url <url>', 'where clients reach this server (the token realm in challenges; default: the address it listens on)')
    .option('--max-body-mib <n>', 'largest telemetry body accepted, after decompression', '16')
    .option('--max-inflight-mib <n>', 'telemetry body MiB held at once, all callers together (being read, decoded or written); past it a 429 with Retry-After (default: 4 × --max-body-mib)')
    .option('--max-inflight-mib-per-credential <n>', 'the same for one credential, so one flooding client leaves room for the others; at least --max-body-mib (default: 2 × --max-body-mib)')
    .option('--max-inflight-requests <n>', 'telemetry requests in progress at once, all callers together; past it a 429 with Retry-After', String(defaultIngestLimits(1).requests))
    .option('--max-inflight-requests-per-credential <n>', 'the same for one credential', String(defaultIngestLimits(1).requestsPerCredential))
    .option('--retain-raw-days <days>', 'delete raw telemetry events older than this (checked at start and hourly; default: keep)')
    .option('--retain-rollups-days <days>', 'delete 5-minute rollups older than this (default: keep)')
    .option('--no-auth', 'serve /v2/ and usage vectors without credentials (everyone may pull and push; loopback experiments only); telemetry and requests still need one')
    .option(
      '--agent-url <url>',
      "this server as the in-guest agent of a consenting client reaches it (goes into the seed); under QEMU user-mode networking, a guestfwd from 10.0.2.100:80 to this port",
      'http://10.0.2.100',
    )
    .option('--queue-url <url>', `PostgreSQL of the build queue shared with 'prescient worker's (or ${queueUrlVariable}): builds are queued for the workers instead of running here; prebuilt hits are answered here as always`)
    .option('--tls-cert <file>', 'serve HTTPS with this certificate (PEM; with --tls-key): credentials and grants cross the network')
    .option('--tls-key <file>', 'the private key of --tls-cert (PEM; keep it 0600)')
    .option(
      '--unused-minutes-per-session <minutes>',
      "proactive builds: the prepared-but-unused minutes per session to spend across all clients; one hazard threshold for everyone, set online to track it (docs/prediction.md, 'The budget controller'). Default: the fixed threshold chosen on the Borg streams",
    );
  addHistoryOptions(addAnonymisationOptions(cmd)).addHelpText(
    'after',
    `
Examples:
  prescient serve --port 5080
  skopeo copy --src-tls-verify=false --src-creds acme:<secret> docker://127.0.0.1:5080/clients/acme:latest oci:/tmp/acme:latest
  curl -u acme:<secret> -H 'accept: application/x-ndjson' -d '{"clientId":"acme"}' http://127.0.0.1:5080/v1/requests
  OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=http://127.0.0.1:5080/v1/metrics \\
    OTEL_EXPORTER_OTLP_HEADERS="Authorization=Basic $(printf 'source/exporter:<secret>' | base64 -w0)" node app.js
  curl -u admin:<secret> -H 'content-type: application/x-ndjson' --data-binary @events.ndjson http://127.0.0.1:5080/v1/telemetry
  curl http://127.0.0.1:5080/v1/routes             # every route with its scope
  curl http://127.0.0.1:5080/openapi.json           # the OpenAPI 3.1 document of those routes
  curl -u acme:<secret> "http://127.0.0.1:5080/v1/usage-vectors?client=acme"
  prescient serve --dataset ../shared/datasets/bitbrains-rnd-2013-7 --format bitbrains --no-auth
  curl "http://127.0.0.1:5080/v1/usage-vectors?client=17"

Prediction: the models of \`prescient train\` over the telemetry store (a client's own, else its
category's; a new training run is picked up by the next request). Configuration (both optional,
under PRESCIENT_HOME): identify.json (identification rules: by account, parameters, patterns;
fallbackCategory) and category-vectors.json (a usage vector per category never trained; else a
small default vector). Pulls need a bearer token from GET /v1/token (Basic
auth of a client credential, 'prescient credentials issue <clientId>', or the admin one in
<home>/secrets/admin.secret); skopeo follows the challenge itself.

Several machines (see README, "A team on several machines"):
  PRESCIENT_QUEUE_URL=postgres://prescient@db.example/prescient prescient serve --host 0.0.0.0 \
    --tls-cert /etc/prescient/tls/cert.pem --tls-key /etc/prescient/tls/key.pem
  PRESCIENT_QUEUE_URL=postgres://prescient@db.example/prescient prescient worker    # on each build machine

Prints {"url": ...} once listening (with --json); stops on Ctrl-C or SIGTERM.`,
  );
  cmd.action(async (opts: ServeOptions, command: Command) => {
    const port = Number(opts.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ValidationError('--port', 'expected a port number');
    const mib = Number(opts.maxBodyMib);
    if (!(mib > 0)) throw new ValidationError('--max-body-mib', 'expected a positive number');
    const ingestLimits = ingestLimitsOf(opts, mib);
    const retention = validateRetention(
      {
        rawDays: opts.retainRawDays === undefined ? undefined : Number(opts.retainRawDays),
        rollupDays: opts.retainRollupsDays === undefined ? undefined : Number(opts.retainRollupsDays),
      },
      { rawDays: '--retain-raw-days', rollupDays: '--retain-rollups-days' },
    );
    if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) throw new ValidationError(opts.tlsCert === undefined ? '--tls-cert' : '--tls-key', 'HTTPS needs both --tls-cert and --tls-key');
    const unusedMinutes = opts.unusedMinutesPerSession === undefined ? undefined : Number(opts.unusedMinutesPerSession);
    if (unusedMinutes !== undefined && !(Number.isFinite(unusedMinutes) && unusedMinutes > 0 && unusedMinutes <= 4320)) throw new ValidationError('--unused-minutes-per-session', 'expected minutes, more than 0 and at most 4320 (the hazard window spans three days)');
    const tls = opts.tlsCert !== undefined && opts.tlsKey !== undefined ? await readTls(opts.tlsCert, opts.tlsKey) : undefined;
    const queueFlag = queueConfigFrom(opts.queueUrl);
    const prescient = await openPrescient({
      ...anonymisationOptions(opts),
      ...(opts.publicUrl !== undefined ? { publicUrl: opts.publicUrl } : {}),
      agentUrl: agentSeedSchema.shape.url.parse(opts.agentUrl),
      ...(queueFlag ? { queue: queueFlag } : {}),
    });
    const ingestion = await prescient.ingestion();
    const prune = (): void => void applyRetention(ingestion.store, retention).catch((e: unknown) => process.stderr.write(`retention: ${(e as Error).message}\n`));
    if (retention.rawDays !== undefined || retention.rollupDays !== undefined) {
      prune();
      setInterval(prune, 60 * 60 * 1000).unref();
    }
    const registry = await prescient.registry();
    const grants = await prescient.grants();
    const queue = await prescient.queue();
    const workflow = await prescient.workflow();
    const external = await prescient.external();
    // After an upgrade whose recipe changed, requests go on starting from the old base: say so once.
    for (const name of namesOnOutdatedBases(await listBases(prescient.paths.bases))) {
      process.stderr.write(`warning: every ${name} base here was built by an older recipe, and images start from the newest until 'prescient base build ${name}' builds the current one\n`);
    }
    // Programs → packages for accuracy reports: this machine's dpkg lists and the archive's index, read once.
    let packages: Promise<PackageIndex> | undefined;
    const accuracyPackages = (): Promise<PackageIndex> =>
      (packages ??= programPackages({ root: '/', archive: true, cacheDir: join(prescient.paths.packageCache, 'contents'), warn: (m) => process.stderr.write(`warning: ${m}\n`) }));
    const scheduler = new ProactiveScheduler({ history: workflow.history!, workflow, ...(unusedMinutes !== undefined ? { unusedMinutesPerSession: unusedMinutes } : {}) });
    scheduler.start();
    const metrics = createServerMetrics({ workflow, version: prescientVersion() });
    const routes: RouteSet[] = [
      telemetryRoutes({ ingestor: ingestion.ingestor, maxBodyBytes: Math.floor(mib * 1024 * 1024), limits: ingestLimits, metrics }),
      ociRoutes({ registry, ...(opts.auth ? { authorize: grants.authorize } : {}) }),
      tokenRoutes({ grants }),
      credentialRoutes({ grants }),
      sshKeyRoutes({ keys: sshKeyStoreAt(prescient.paths.home) }),
      requestRoutes({ workflow, ...(queue ? { cancelQueued: (clientId: string) => queue.cancelClient(clientId) } : {}) }),
      healthRoutes({ workflow, metrics, readiness: { store: () => ingestion.store.ping(), ...(queue ? { queue: () => queue.ping() } : {}) } }),
      accuracyRoutes({
        accuracy: async (clientId) => clientAccuracy({ registry, store: ingestion.store, anonymiser: ingestion.anonymiser, packages: await accuracyPackages() }, clientId),
      }),
      sessionRoutes({ grants }),
      dashboardRoutes({
        // with a shared registry a rollback moves the tag there too
        registry: external ? { rollback: (repository, options) => external.rollback(repository, options) } : registry,
        reader: new DashboardReader({
          registry,
          store: ingestion.store,
          pseudonym: (clientId) => ingestion.anonymiser.pseudonym('client', clientId),
          outcomes: new RequestOutcomes(workflowConfigFiles(prescient.paths).outcomes),
          activeBuilds: () => workflow.builds.active.values(),
          modelsDir: prescient.paths.models,
          // The in-guest agent's predicted-against-observed route, when this server has it: the page reads it, else telemetry.
          accuracyApi: () => routes.some((set) => set.some((r) => r.path === '/v1/clients/:clientId/accuracy')),
        }),
      }),
      uiRoutes({ root: uiBuildDir(), grants }),
    ];
    // Usage vectors: from the telemetry store (clients named by their real ids, pseudonymised here), or from a trace folder.
    const history = opts.dataset ? (await openHistory(opts)).history : storeHistory(ingestion.store);
    routes.push(
      predictRoutes({
        predictor: createPredictor({ history, modelsDir: prescient.paths.models, policy: policySource(policyFile(prescient.paths)) }),
        ...(opts.dataset
          ? {}
          : {
              subjectOf: (client: string) => ingestion.anonymiser.pseudonym('client', client),
              authorize: categorySizeRule({ membersOf: async (category) => (await ingestion.store.listSubjects({ category, kind: 'client' })).length }),
            }),
      }),
    );
    routes.push(openApiRoutes({ routes, version: prescientVersion() }));
    routes.push(routeTableRoutes({ routes }));
    const server = createApp({ routes, logger: pino({ base: null }, pino.destination(2)), auth: grants.edgeAuth(opts.auth ? [] : ['registry', 'client-own']), observeRequest: metrics.observeRequest, ...(tls ? { tls } : {}) });
    const addr = await listen(server, port, opts.host);
    const scheme = tls ? 'https' : 'http';
    if (opts.publicUrl === undefined) {
      const host = addr.host === '0.0.0.0' || addr.host === '::' ? '127.0.0.1' : addr.host.includes(':') ? `[${addr.host}]` : addr.host;
      grants.publicUrl = `${scheme}://${host}:${addr.port}`;
    }
    // TensorFlow.js takes about a second to start; start it now rather than in the first request.
    void loadTf().catch(() => undefined);
    // So is the programs → packages index the accuracy API scores with (the archive's Contents, parsed once).
    void accuracyPackages().catch(() => undefined);
    const listening = addr.host.includes(':') ? `[${addr.host}]` : addr.host;
    emit(
      command,
      { url: `${scheme}://${listening}:${addr.port}`, registry: registry.root, builds: prescient.queueConfig ? `queue ${redactedUrl(prescient.queueConfig.url)}` : 'in process' },
      (v) => `listening on ${v.url} (registry ${v.registry}; builds ${v.builds}); Ctrl-C stops`,
    );
    const signal = cliSignal();
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
    });
    await server.close();
    await prescient.close();
  });
};

/** The --max-inflight-* flags as IngestLimits, each checked and named (bytes: at least one largest body per credential). */
function ingestLimitsOf(opts: ServeOptions, bodyMib: number): IngestLimits {
  const positive = (flag: string, value: string | undefined, fallback: number, integer: boolean): number => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!(Number.isFinite(n) && n > 0 && (!integer || Number.isInteger(n)))) throw new ValidationError(flag, integer ? 'expected a positive whole number' : 'expected a positive number');
    return n;
  };
  const defaults = defaultIngestLimits(bodyMib);
  const perCredentialMib = positive('--max-inflight-mib-per-credential', opts.maxInflightMibPerCredential, defaults.bytesPerCredential, false);
  if (perCredentialMib < bodyMib) throw new ValidationError('--max-inflight-mib-per-credential', `must be at least --max-body-mib (${bodyMib}): a body of that size could never be taken`);
  const totalMib = positive('--max-inflight-mib', opts.maxInflightMib, Math.max(defaults.bytes, perCredentialMib), false);
  if (totalMib < perCredentialMib) throw new ValidationError('--max-inflight-mib', `must be at least --max-inflight-mib-per-credential (${perCredentialMib})`);
  const mib = (n: number): number => Math.floor(n * 1024 * 1024);
  return {
    bytes: mib(totalMib),
    bytesPerCredential: mib(perCredentialMib),
    requests: positive('--max-inflight-requests', opts.maxInflightRequests, defaultIngestLimits(1).requests, true),
    requestsPerCredential: positive('--max-inflight-requests-per-credential', opts.maxInflightRequestsPerCredential, defaultIngestLimits(1).requestsPerCredential, true),
  };
}

/** The certificate and key of --tls-cert/--tls-key, read once at start (a bad file fails here, naming its flag). */
async function readTls(certFile: string, keyFile: string): Promise<{ cert: Buffer; key: Buffer }> {
  const read = async (file: string, flag: string, marker: RegExp): Promise<Buffer> => {
    const b = await readFile(file).catch((e: NodeJS.ErrnoException) => {
      throw new ValidationError(flag, `cannot read ${file}: ${e.code ?? e.message}`);
    });
    if (!marker.test(b.toString('latin1'))) throw new ValidationError(flag, `${file} is not a PEM file`);
    return b;
  };
  return { cert: await read(certFile, '--tls-cert', /-----BEGIN CERTIFICATE-----/), key: await read(keyFile, '--tls-key', /-----BEGIN [A-Z ]*PRIVATE KEY-----/) };
}
