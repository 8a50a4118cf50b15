import { Command, CommanderError } from 'commander';
import { isAppError, toAppError, type ErrorCode } from '../core/errors.js';
import { commands } from './commands/index.js';

/** Exit statuses by error code: 2 for usage and input, 1 for everything that went wrong later. */
const exitCodes: Partial<Record<ErrorCode, number>> = { VALIDATION: 2, NOT_FOUND: 3, ABORTED: 130 };

export function buildProgram(): Command {
  const program = new Command('prescient')
    .description(
      'Prepares personalised virtual-machine images before their users ask for them:\n' +
        'telemetry → prediction → usage vector → image pipeline → OCI registry → grant.',
    )
    .option('--json', 'print the result as JSON on stdout (progress stays on stderr)')
    .option('-q, --quiet', 'no progress display')
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ showGlobalOptions: true, sortSubcommands: true })
    .exitOverride();
  for (const register of commands) register(program);
  return program;
}

export async function main(argv: readonly string[]): Promise<void> {
  // `prescient … | head` closes our stdout early: that is the reader's choice, not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  });
  const program = buildProgram();
  const json = argv.includes('--json');
  try {
    await program.parseAsync(argv as string[]);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode;
      return;
    }
    const err = toAppError(e);
    if (json) process.stdout.write(`${JSON.stringify(err.toJSON(), null, 2)}\n`);
    process.stderr.write(`error: ${err.message}\n`);
    if (!isAppError(e) || err.code === 'INTERNAL') process.stderr.write(`${(e as Error)?.stack ?? ''}\n`);
    process.exitCode = exitCodes[err.code] ?? 1;
  }
}
