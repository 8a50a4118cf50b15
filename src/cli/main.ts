import { Command, CommanderError } from 'commander';
import { AppError } from '../core/errors.js';
import { commands } from './commands/index.js';
import { describeExitStatuses, exitStatusOf } from './exit-codes.js';
import { toUserError } from './user-error.js';
import { checkRequiredOptionsLast } from './required-options.js';
import { prescientVersion } from './version.js';

export function buildProgram(): Command {
  const program = new Command('prescient')
    .description(
      'prepares personalised virtual-machine images before their users ask for them:\n' +
        'telemetry → prediction → usage vector → image pipeline → OCI registry → grant.',
    )
    .version(prescientVersion(), '-V, --version', 'print the version and exit')
    .option('--json', 'print the result as JSON on stdout (progress stays on stderr)')
    .option('-q, --quiet', 'no progress display')
    .option('--debug', 'on an error, also print its stack trace and causes (or set PRESCIENT_DEBUG=1)')
    .configureHelp({ showGlobalOptions: true, sortSubcommands: true })
    // A usage error is one line: what is wrong (with commander's suggestion), and where the help is.
    .configureOutput({ outputError: (text, write) => write(`${oneLine(text)} (see --help)\n`) })
    .addHelpText('after', `\nExit status:\n${describeExitStatuses()}\n\nShell completion: prescient completion bash|zsh|fish (see 'prescient completion --help').`)
    .exitOverride();
  for (const register of commands) register(program);
  checkRequiredOptionsLast(program);
  return program;
}

const oneLine = (text: string): string => text.trim().replace(/\s*\n\s*/g, ' ');

/** What commander refused, as the error --json prints: a usage error is invalid input like any other. */
function usageError(e: CommanderError): AppError {
  // A group run without its subcommand prints its help to stderr; commander's message is a placeholder.
  const message = e.code === 'commander.help' ? 'a subcommand is missing' : oneLine(e.message).replace(/^error: /, '');
  return new AppError('VALIDATION', `${message} (see --help)`, { details: { usage: e.code.replace(/^commander\./, '') } });
}

function stackOf(e: unknown): string {
  const parts: string[] = [];
  for (let x: unknown = e, depth = 0; x !== undefined && depth < 5; x = (x as { cause?: unknown }).cause, depth++) {
    parts.push(x instanceof Error ? (x.stack ?? x.message) : String(x));
  }
  return parts.join('\ncaused by: ');
}

export async function main(argv: readonly string[]): Promise<void> {
  // `prescient … | head` closes our stdout early: that is the reader's choice, not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  });
  const program = buildProgram();
  const json = argv.includes('--json');
  const debug = argv.includes('--debug') || process.env['PRESCIENT_DEBUG'] === '1';
  try {
    await program.parseAsync(argv as string[]);
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and --version end with 0; anything commander refused is a usage error.
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      if (json && e.exitCode !== 0) process.stdout.write(`${JSON.stringify(usageError(e).toJSON(), null, 2)}\n`);
      return;
    }
    const err = toUserError(e);
    if (json) process.stdout.write(`${JSON.stringify(err.toJSON(), null, 2)}\n`);
    process.stderr.write(`error: ${err.message}\n`);
    if (debug) process.stderr.write(`${stackOf(e)}\n`);
    else if (err.code === 'INTERNAL') process.stderr.write('(this looks like a bug: run again with --debug for the stack trace)\n');
    process.exitCode = exitStatusOf(err.code);
  }
}
