import type { Command } from 'commander';
import { paths } from '../../core/config.js';
import { ValidationError } from '../../core/errors.js';
import { createPredictor } from '../../predict/predict-vector.js';
import { createApp, listen } from '../../server/app.js';
import { predictRoutes } from '../../server/routes/predict.js';
import { addHistoryOptions, openHistory, type HistoryFlags } from '../history-option.js';
import { cliSignal } from '../signal.js';
import type { CommandRegistration } from './index.js';

interface ServeFlags extends HistoryFlags {
  port: string;
  host: string;
}

export const registerServe: CommandRegistration = (program: Command) => {
  const cmd = program
    .command('serve')
    .description('serve the HTTP API on 127.0.0.1 until Ctrl-C')
    .option('--port <n>', 'port (0 picks a free one)', '8080')
    .option('--host <addr>', 'address to bind', '127.0.0.1');
  addHistoryOptions(cmd)
    .addHelpText('after', '\nExample:\n  prescient serve --port 8080 --dataset ../shared/datasets/bitbrains-rnd-2013-7 --format bitbrains\n  curl "http://127.0.0.1:8080/v1/usage-vectors?client=17"')
    .action(async (flags: ServeFlags) => {
      const port = Number(flags.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ValidationError('--port', 'a port number');
      const routes = [
        predictRoutes({ predictor: createPredictor({ history: openHistory(flags).history, modelsDir: paths().models }) }),
      ];
      const server = createApp({ routes });
      const addr = await listen(server, port, flags.host);
      process.stderr.write(`listening on http://${addr.host}:${addr.port}\n`);
      const signal = cliSignal();
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => server.close(() => resolve()), { once: true }));
    });
};
