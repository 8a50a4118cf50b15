import type { Command } from 'commander';
import { NotFoundError, ValidationError } from '../../core/errors.js';
import { buildStates } from '../../queue/build-job.js';
import { BuildQueue, type BuildInfo } from '../../queue/build-queue.js';
import { queueConfigFrom, queueUrlVariable } from '../../queue/queue-config.js';
import { emit, table } from '../output.js';
import type { CommandRegistration } from './command-registration.js';

/** What a build shows as: pg-boss's states, and refused (invalid input, not retried). */
const listedStates = [...buildStates, 'refused'] as const;

interface QueueFlags {
  queueUrl?: string;
}

async function withQueue<T>(flags: QueueFlags, work: (queue: BuildQueue) => Promise<T>): Promise<T> {
  const config = queueConfigFrom(flags.queueUrl);
  if (!config) throw new ValidationError('--queue-url', `builds are queued only with a build queue: --queue-url or ${queueUrlVariable} (without one, builds run inside 'serve')`);
  const queue = await BuildQueue.open(config);
  try {
    return await work(queue);
  } finally {
    await queue.close();
  }
}

function rows(builds: readonly BuildInfo[]): string {
  if (builds.length === 0) return 'no builds';
  return table(
    builds.map((b) => [b.id, b.state, b.repository, b.attempts, b.createdAt.slice(0, 19), b.worker ?? '', b.result ? `v${b.result.version}` : (b.error?.message ?? '')]),
    ['ID', 'STATE', 'REPOSITORY', 'ATTEMPTS', 'CREATED', 'WORKER', 'RESULT'],
  );
}

/** The build queue seen from the command line: what is queued, running and done; cancel one. */
export const buildsCommand: CommandRegistration = (program) => {
  const builds = program
    .command('builds')
    .description(`the build queue of 'prescient worker's (PostgreSQL, --queue-url or ${queueUrlVariable}): list, show, cancel`)
    .addHelpText(
      'after',
      `
States: created (queued), retry (failed, waiting for its next attempt), active (a worker runs
it), completed (registered), refused (invalid input, not retried), cancelled, failed (no attempt left).

Examples:
  prescient builds list --state active
  prescient builds show 1f0c…      # its worker, attempts, the version it registered or its error
  prescient builds cancel 1f0c…    # its worker stops at its next heartbeat
  prescient builds cancel --client acme`,
    );
  builds
    .command('list')
    .description('builds newest first')
    .option('--queue-url <url>', `PostgreSQL of the build queue (or ${queueUrlVariable})`)
    .option('--state <state>', `only this state (${listedStates.join(', ')})`)
    .option('--client <clientId>', "only this client's builds")
    .option('--limit <n>', 'at most this many', '50')
    .action(async (flags: QueueFlags & { state?: string; client?: string; limit: string }, command: Command) => {
      if (flags.state !== undefined && !(listedStates as readonly string[]).includes(flags.state)) throw new ValidationError('--state', `expected one of ${listedStates.join(', ')}`);
      const limit = Number(flags.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new ValidationError('--limit', 'expected an integer from 1 to 10000');
      const list = await withQueue(flags, (q) => q.list({ ...(flags.state ? { states: [flags.state as BuildInfo['state']] } : {}), ...(flags.client ? { clientId: flags.client } : {}), limit }));
      emit(command, list, rows);
    });
  builds
    .command('show')
    .description('one build: state, attempts, worker, result or error')
    .argument('<id>', 'the build id (from builds list, or the queue id a request reported)')
    .option('--queue-url <url>', `PostgreSQL of the build queue (or ${queueUrlVariable})`)
    .action(async (id: string, flags: QueueFlags, command: Command) => {
      const info = await withQueue(flags, (q) => q.get(id));
      if (!info) throw new NotFoundError(`no build ${id} in the queue`, { id });
      emit(command, info, (b) => rows([b]));
    });
  builds
    .command('cancel')
    .description('cancel a queued or running build (its worker stops at its next heartbeat), or all of a client')
    .argument('[id]', 'the build id')
    .option('--client <clientId>', "cancel every queued or running build of this client instead")
    .option('--queue-url <url>', `PostgreSQL of the build queue (or ${queueUrlVariable})`)
    .action(async (id: string | undefined, flags: QueueFlags & { client?: string }, command: Command) => {
      if ((id === undefined) === (flags.client === undefined)) throw new ValidationError('id', 'name a build id or --client, one of them');
      const cancelled = await withQueue(flags, async (q) => (id !== undefined ? ((await q.cancel(id)) ? [id] : []) : q.cancelClient(flags.client!)));
      emit(command, { cancelled }, (v) => (v.cancelled.length === 0 ? 'nothing to cancel (the build had already ended)' : `cancelled ${v.cancelled.join(', ')}`));
    });
};
