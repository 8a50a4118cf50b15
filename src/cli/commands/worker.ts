import type { Command } from 'commander';
import { openPrescient } from '../../app/open-prescient.js';
import { ValidationError } from '../../core/errors.js';
import { assemblePipeline } from '../../pipeline/plan.js';
import { BuildQueue, redactedUrl } from '../../queue/build-queue.js';
import { BuildWorker, type WorkerEvent } from '../../queue/build-worker.js';
import { queueConfigFrom, queueUrlVariable } from '../../queue/queue-config.js';
import { PipelineImageBuilder } from '../../workflow/image-builder.js';
import { sharedBaseResolver } from '../../workflow/shared-base.js';
import { emit, globalOptions } from '../output.js';
import { cliSignal } from '../signal.js';
import type { CommandRegistration } from './command-registration.js';

interface WorkerFlags {
  queueUrl?: string;
  concurrency: string;
  heartbeatSeconds: string;
  leaseSeconds: string;
  retries: string;
  retryDelaySeconds: string;
  buildTimeoutMinutes: string;
}

function positive(flag: string, value: string, integer: boolean): number {
  const n = Number(value);
  if (!(n > 0) || (integer && !Number.isInteger(n))) throw new ValidationError(flag, `expected a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(value)}`);
  return n;
}

/** One line a worker event, for people (stderr); undefined for the ones too fine to show. */
function describe(e: WorkerEvent): string | undefined {
  const short = (id: string): string => id.slice(0, 8);
  switch (e.type) {
    case 'taken':
      return `… build ${short(e.id)} ${e.repository} (attempt ${e.attempt})`;
    case 'pipeline':
      return e.event.type === 'module-done' ? `    ${e.event.module}: ${e.event.outcome} (${(e.event.ms / 1000).toFixed(1)} s)` : undefined;
    case 'registered':
      return `✓ build ${short(e.id)} ${e.repository} v${e.version} ${e.digest.slice(0, 19)} (${(e.ms / 1000).toFixed(1)} s)`;
    case 'failed':
      return `✗ build ${short(e.id)} ${e.repository}: ${e.code}: ${e.message} (${e.next === 'retrying' ? 'will be retried' : 'given up'})`;
    case 'cancelled':
      return `✗ build ${short(e.id)} ${e.repository}: cancelled, stopped`;
    case 'lost':
      return `✗ build ${short(e.id)} ${e.repository}: lease lost (another worker may have it), stopped`;
    case 'handed-back':
      return `↩ build ${short(e.id)} ${e.repository}: handed back to the queue (stopping)`;
    case 'swept':
      return `↻ took back ${e.ids.length} build(s) of workers that stopped renewing their lease: ${e.ids.map(short).join(', ')}`;
    case 'error':
      return `warning: ${e.message}`;
  }
}

/**
 * A build worker: takes builds from the PostgreSQL queue that `serve` fills, and runs each with
 * the same pipeline and registry as an in-process build. Run one per build machine (or several).
 */
export const workerCommand: CommandRegistration = (program) => {
  program
    .command('worker')
    .description("take builds from the PostgreSQL build queue (filled by 'prescient serve --queue-url') and run them: personalise → register")
    .option('--queue-url <url>', `PostgreSQL of the build queue (or ${queueUrlVariable}); the same as serve's`)
    .option('--concurrency <n>', 'builds at once in this worker (each holds a qemu/NBD session and a core)', '1')
    .option('--heartbeat-seconds <s>', 'how often a running build renews its lease (and checks for a cancel)', '10')
    .option('--lease-seconds <s>', "a build whose worker renewed nothing for this long is taken back and retried (by any worker's sweep)", '60')
    .option('--retries <n>', 'attempts after the first failure, with exponential backoff (for builds this worker queues back)', '2')
    .option('--retry-delay-seconds <s>', 'first retry delay; each next one doubles', '5')
    .option('--build-timeout-minutes <m>', 'the hard cap of one attempt, whatever the heartbeats say', '180')
    .addHelpText(
      'after',
      `
What it does: waits for builds in the queue, takes one at a time (--concurrency), checks that this
machine has the same base (recipe key) and plans the same image as the server did, runs the
pipeline through this machine's layer cache, and registers the version in the registry. State:
PRESCIENT_HOME as for every command (its bases, layers, package cache, registry).

At most one build per (client, base, plan) runs across all workers. A failed build is retried
with backoff; invalid input is not. A worker killed mid-build (SIGKILL, power loss) stops
renewing its lease: after --lease-seconds another worker takes the build again, and the version
is registered once (a build finds the version an earlier attempt registered). SIGTERM or Ctrl-C
stops the running builds and hands them back to the queue at once.

Logs: one line per build and module on stderr; with --json, one JSON object per event on
stdout ({"type":"registered","id":…,"version":…}), for a log collector.

Examples:
  ${queueUrlVariable}=postgres://prescient@db.example/prescient prescient worker
  prescient worker --queue-url postgres://postgres@127.0.0.1:5432/postgres --concurrency 2
  prescient builds list                # what is queued, running, done (see 'prescient builds --help')
  systemctl enable --now prescient-worker@1 prescient-worker@2   # deploy/systemd/prescient-worker@.service`,
    )
    .action(async (flags: WorkerFlags, command: Command) => {
      const config = queueConfigFrom(flags.queueUrl);
      if (!config) throw new ValidationError('--queue-url', `a worker needs the build queue: --queue-url or ${queueUrlVariable}`);
      const concurrency = positive('--concurrency', flags.concurrency, true);
      const tuning = {
        heartbeatSeconds: positive('--heartbeat-seconds', flags.heartbeatSeconds, false),
        leaseSeconds: positive('--lease-seconds', flags.leaseSeconds, false),
        retryLimit: flags.retries === '0' ? 0 : positive('--retries', flags.retries, true),
        retryDelaySeconds: positive('--retry-delay-seconds', flags.retryDelaySeconds, false),
        timeoutSeconds: Math.round(positive('--build-timeout-minutes', flags.buildTimeoutMinutes, false) * 60),
      };
      if (tuning.leaseSeconds < 2 * tuning.heartbeatSeconds) throw new ValidationError('--lease-seconds', 'must be at least twice --heartbeat-seconds (one missed heartbeat must not lose a build)');
      // The same opener as serve: this home's registry, and the shared one when configured (layers and versions go there).
      const prescient = await openPrescient({ queue: config });
      const p = prescient.paths;
      const json = globalOptions(command).json === true;
      const quiet = globalOptions(command).quiet === true;
      const queue = await BuildQueue.open(config, tuning);
      const signal = cliSignal();
      try {
        const registry = await prescient.registry();
        const external = await prescient.external();
        const worker = new BuildWorker({
          queue,
          builder: new PipelineImageBuilder({ paths: p, registry, pipeline: assemblePipeline(), ...(external ? { external } : {}) }),
          resolveBase: sharedBaseResolver({ basesDir: p.bases, ...(external ? { external } : {}) }),
          concurrency,
          onEvent: (e) => {
            if (json) {
              if (e.type !== 'pipeline' || e.event.type === 'module-start' || e.event.type === 'module-done') process.stdout.write(`${JSON.stringify({ ...e, at: new Date().toISOString() })}\n`);
            } else if (!quiet || e.type === 'failed' || e.type === 'error') {
              const line = describe(e);
              if (line) process.stderr.write(`${line}\n`);
            }
          },
        });
        const started = { type: 'started', worker: queue.workerId, queue: redactedUrl(config.url), concurrency, registry: external ? `${registry.root} (cache of ${external.address})` : registry.root, home: p.home };
        if (json) process.stdout.write(`${JSON.stringify({ ...started, at: new Date().toISOString() })}\n`);
        else process.stderr.write(`worker ${started.worker}: taking builds from ${started.queue} (concurrency ${concurrency}; registry ${started.registry}); Ctrl-C stops\n`);
        await worker.run(signal);
        const summary = { type: 'stopped', worker: queue.workerId, completed: worker.completed, failed: worker.failed };
        if (json) process.stdout.write(`${JSON.stringify({ ...summary, at: new Date().toISOString() })}\n`);
        else emit(command, summary, (v) => `worker stopped: ${v.completed} build(s) registered, ${v.failed} failed`);
      } finally {
        await queue.close();
        await prescient.close();
      }
    });
};
