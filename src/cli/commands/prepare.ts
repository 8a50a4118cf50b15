import type { Command } from 'commander';
import { checkClientId } from '../../contracts/identifiers.js';
import { openPrescient } from '../../app/open-prescient.js';
import type { RequestResult } from '../../workflow/request-result.js';
import type { WorkflowEvent } from '../../workflow/workflow-event.js';
import { emit, globalOptions, table } from '../output.js';
import { createProgress } from '../progress.js';
import { cliSignal } from '../signal.js';
import type { CommandRegistration } from './command-registration.js';
import { plural } from '../plural.js';

interface PrepareFlags {
  base?: string;
}

/**
 * The request workflow without a request: identify → predict → personalise → register, for each
 * client named, so that its next request is a prebuilt hit. What `serve`'s scheduler does for
 * the clients it expects, on demand.
 */
export const prepareCommand: CommandRegistration = (program: Command) => {
  program
    .command('prepare')
    .description("build and register each client's predicted image ahead of its request (identify → predict → personalise → register)")
    .argument('<clientId...>', 'clients to prepare (their category comes from identify.json, else from their telemetry)')
    .option('--base <name>', 'base image (default: debian-12)')
    .addHelpText(
      'after',
      `
An image already registered for the same plan is left as it is (source "prebuilt"). The result
names each image; a later POST /v1/requests for the client answers with it at once.

Examples:
  prescient prepare webshop ledger
  prescient prepare lab --json | jq '.[0].image.reference'`,
    )
    .action(async (clientIds: string[], flags: PrepareFlags, command: Command) => {
      // Every id before any build: a typo in the third should not come after two builds.
      for (const clientId of clientIds) checkClientId(clientId, '<clientId>');
      const prescient = await openPrescient();
      const progress = createProgress({ quiet: globalOptions(command).quiet });
      try {
        const workflow = await prescient.workflow();
        const signal = cliSignal();
        const results: RequestResult[] = [];
        for (const clientId of clientIds) {
          progress.step(`${clientId}: predicting`);
          const onEvent = (e: WorkflowEvent): void => {
            if (e.type === 'pipeline' && e.event.type === 'module-start') progress.step(`${clientId}: ${e.event.module} (${plural(e.event.changes, 'change')})`);
            if (e.type === 'pipeline' && e.event.type === 'module-done') progress.detail(e.event.outcome);
            if (e.type === 'build' && e.state === 'retrying') progress.detail(e.message ?? 'retrying');
          };
          const result = await workflow.handle({ clientId, ...(flags.base ? { base: flags.base } : {}) }, { signal, onEvent, proactive: true });
          progress.step(`${clientId}: ${result.source} ${result.image.reference}`);
          results.push(result);
        }
        progress.done();
        emit(command, results, (rs) =>
          table(
            rs.map((r) => [r.clientId, r.category, r.source, `${r.image.repository}:${r.image.version ?? ''}`, `${r.vmSpec?.vcpus ?? '?'} vCPU / ${r.vmSpec?.memoryMiB ?? '?'} MiB`, `${(r.timings.totalMs / 1000).toFixed(1)} s`]),
            ['client', 'category', 'source', 'image', 'size', 'time'],
          ),
        );
      } catch (e) {
        progress.fail((e as Error).message);
        throw e;
      } finally {
        await prescient.close();
      }
    });
};
