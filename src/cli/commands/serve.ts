import type { Command } from 'commander';
import { paths } from '../../core/config.js';
import { ValidationError } from '../../core/errors.js';
import { createPredictor } from '../../predict/predict-vector.js';
import { openRegistry } from '../../registry/registry.js';
import { createApp, listen } from '../../server/app.js';
import type { RouteSet } from '../../server/router.js';
import { ociRoutes } from '../../server/routes/oci.js';
import { predictRoutes } from '../../server/routes/predict.js';
import { addHistoryOptions, openHistory, type HistoryFlags } from '../history-option.js';
import { emit } from '../output.js';
import { cliSignal } from '../signal.js';
import type { CommandRegistration } from './index.js';

interface ServeFlags extends HistoryFlags {
  port: string;
  host: string;
}

/**
 * One process serves every HTTP route: the OCI distribution API over the local registry, and
 * (when a history source is given) the usage-vector routes.
 */
export const serveCommand: CommandRegistration = (program: Command) => {
  const cmd = program
    .command('serve')
    .description('serve the HTTP API until Ctrl-C: the OCI distribution API (/v2/) over the image registry, usage vectors (/v1/usage-vectors)')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port (0 picks a free one)', '5080');
  addHistoryOptions(cmd)
    .addHelpText(
      'after',
      '\nExamples:\n  prescient serve --port 5080\n  skopeo copy --src-tls-verify=false docker://127.0.0.1:5080/clients/acme:latest oci:/tmp/acme:latest\n' +
        '  prescient serve --dataset ../shared/datasets/bitbrains-rnd-2013-7 --format bitbrains\n  curl "http://127.0.0.1:5080/v1/usage-vectors?client=17"\n',
    )
    .action(async (flags: ServeFlags, command: Command) => {
      const port = Number(flags.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ValidationError('--port', 'a port number from 0 to 65535');
      const signal = cliSignal();
      const registry = await openRegistry({ root: paths().registry });
      const routes: RouteSet[] = [ociRoutes({ registry })];
      if (flags.dataset) routes.push(predictRoutes({ predictor: createPredictor({ history: openHistory(flags).history, modelsDir: paths().models }) }));
      const server = createApp({ routes });
      const address = await listen(server, port, flags.host);
      emit(command, { ...address, registry: registry.root }, (a) => `listening on http://${a.host}:${a.port} (registry ${a.registry}); Ctrl-C stops`);
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => server.close(() => resolve()), { once: true }));
    });
};
