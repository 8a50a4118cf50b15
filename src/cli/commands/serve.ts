import type { Command } from 'commander';
import { paths } from '../../core/config.js';
import { openRegistry } from '../../registry/registry.js';
import { createApp, listen } from '../../server/app.js';
import { ociRoutes } from '../../server/routes/oci.js';
import { Grants } from '../../grants/grants.js';
import { tokenRoutes } from '../../server/routes/token.js';
import { healthRoutes } from '../../server/routes/health.js';
import { credentialRoutes } from '../../server/routes/credentials.js';
import { requestRoutes } from '../../server/routes/requests.js';
import { openRequestWorkflow } from '../../workflow/open-request-workflow.js';
import { ProactiveScheduler } from '../../workflow/proactive-scheduler.js';
import { cliSignal } from '../signal.js';
import { emit } from '../output.js';
import type { CommandRegistration } from './index.js';

export const serveCommand: CommandRegistration = (program: Command) => {
  program
    .command('serve')
    .description('Serve the HTTP API on loopback by default: POST /v1/requests (identify → predict → personalise → register → grant), GET /v1/token (the Docker token flow) and the OCI distribution API (/v2/) over the image registry, pull-only per client')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port (0 picks a free one)', '5080')
    .option('--no-auth', 'serve /v2/ without the token flow (everyone may pull and push; loopback experiments only)')
    .addHelpText('after', '\nExamples:\n  prescient serve --port 5080\n  skopeo copy --src-tls-verify=false --src-creds acme:<secret> docker://127.0.0.1:5080/clients/acme:latest oci:/tmp/acme:latest\n  curl -u admin:$(cat ~/.prescient/secrets/admin.secret) http://127.0.0.1:5080/v1/token?scope=repository:clients/acme:pull\n  curl -u acme:<secret> -H \'accept: application/x-ndjson\' -d \'{"clientId":"acme"}\' http://127.0.0.1:5080/v1/requests\n\nConfiguration (both optional, under PRESCIENT_HOME): identify.json (identification rules: by account, parameters, patterns; fallbackCategory) and category-vectors.json (a usage vector per category; an unknown category gets a small default vector).\n\nPulls need a bearer token from GET /v1/token (Basic auth of a client credential, `prescient credentials issue <clientId>`, or the admin one in <home>/secrets/admin.secret); skopeo follows the challenge itself.\n')
    .action(async (options: { host: string; port: string; auth: boolean }, cmd: Command) => {
      const signal = cliSignal();
      const registry = await openRegistry({ root: paths().registry });
      const grants = await Grants.open({ secretsDir: paths().secrets });
      const workflow = await openRequestWorkflow({ paths: paths(), registry, grants });
      new ProactiveScheduler({ history: workflow.history!, workflow }).start();
      const server = createApp({ routes: [ociRoutes({ registry, ...(options.auth ? { authorize: grants.authorize } : {}) }), tokenRoutes({ grants }), credentialRoutes({ grants }), requestRoutes({ grants, workflow }), healthRoutes({ workflow })] });
      const address = await listen(server, Number(options.port), options.host);
      emit(cmd, { ...address, registry: registry.root }, (a) => `listening on http://${a.host}:${a.port} (registry ${a.registry}); Ctrl-C stops`);
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => server.close(() => resolve()), { once: true }));
    });
};
