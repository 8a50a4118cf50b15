import type { Command } from 'commander';
import { ValidationError } from '../../core/errors.js';
import { createApp, listen } from '../../server/app.js';
import { applyRetention, validateRetention } from '../../store/retention.js';
import { telemetryRoutes } from '../../server/routes/telemetry.js';
import { openIngestion } from '../../telemetry/open-ingestion.js';
import { addAnonymisationOptions, anonymisationOptions } from '../ingestion-options.js';
import { emit } from '../output.js';
import { cliSignal } from '../signal.js';
import type { CommandRegistration } from './index.js';

interface ServeOptions {
  port: string;
  host: string;
  maxBodyMib: string;
  retainRawDays?: string;
  retainRollupsDays?: string;
  ipv4Prefix: string;
  ipv6Prefix: string;
}

export const serveCommand: CommandRegistration = (program) => {
  const cmd = program
    .command('serve')
    .description('Run the HTTP API: telemetry ingestion (POST /v1/telemetry, OTLP/HTTP JSON on POST /v1/metrics) and the other features')
    .option('-p, --port <port>', 'TCP port (0 picks a free one)', '8080')
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--max-body-mib <n>', 'largest request body accepted, after decompression', '16')
    .option('--retain-raw-days <days>', 'delete raw telemetry events older than this (checked at start and hourly; default: keep)')
    .option('--retain-rollups-days <days>', 'delete 5-minute rollups older than this (default: keep)');
  addAnonymisationOptions(cmd)
    .addHelpText(
      'after',
      `
Examples:
  prescient serve --port 4318        # OTLP/HTTP's usual port: point an OpenTelemetry SDK at it
  prescient serve --retain-raw-days 30 --retain-rollups-days 730
  OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=http://127.0.0.1:4318/v1/metrics node app.js
  curl -H 'content-type: application/x-ndjson' --data-binary @events.ndjson http://127.0.0.1:4318/v1/telemetry

Prints {"url": ...} once listening; stops on Ctrl-C or SIGTERM.`,
    )
    .action(async (opts: ServeOptions, command: Command) => {
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ValidationError('--port', 'expected a port number');
      const mib = Number(opts.maxBodyMib);
      if (!(mib > 0)) throw new ValidationError('--max-body-mib', 'expected a positive number');
      const retention = validateRetention({
        rawDays: opts.retainRawDays === undefined ? undefined : Number(opts.retainRawDays),
        rollupDays: opts.retainRollupsDays === undefined ? undefined : Number(opts.retainRollupsDays),
      });
      const ingestion = openIngestion(anonymisationOptions(opts));
      const prune = (): void => void applyRetention(ingestion.store, retention).catch((e: unknown) => process.stderr.write(`retention: ${(e as Error).message}\n`));
      if (retention.rawDays !== undefined || retention.rollupDays !== undefined) {
        prune();
        setInterval(prune, 60 * 60 * 1000).unref();
      }
      const server = createApp({ routes: [telemetryRoutes({ ingestor: ingestion.ingestor, maxBodyBytes: Math.floor(mib * 1024 * 1024) })] });
      const addr = await listen(server, port, opts.host);
      emit(command, { url: `http://${addr.host}:${addr.port}` }, (v) => `listening on ${v.url}`);
      const signal = cliSignal();
      await new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        else signal.addEventListener('abort', () => resolve(), { once: true });
      });
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await ingestion.close();
    });
};
