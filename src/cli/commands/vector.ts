import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { ValidationError } from '../../core/errors.js';
import { usageVectorJsonSchema } from '../../usage-vector/json-schema.js';
import { usageVectorSchemaVersion } from '../../usage-vector/schema.js';
import { checkUsageVector } from '../../usage-vector/validate.js';
import { emit } from '../output.js';
import type { CommandRegistration } from './index.js';

async function readJsonFile(file: string): Promise<unknown> {
  const text = file === '-' ? await readStdin() : await readFile(file, 'utf8');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ValidationError(file, `not JSON: ${(e as Error).message}`);
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export const registerVector: CommandRegistration = (program: Command) => {
  const vector = program
    .command('vector')
    .description(`work with usage vectors (${usageVectorSchemaVersion}), the contract between prediction and the image pipeline`);

  vector
    .command('validate')
    .description('check a usage vector file; every error is named by its field path')
    .argument('<file>', 'a usage vector JSON file, or - for stdin')
    .addHelpText(
      'after',
      '\nExamples:\n  prescient vector validate examples/vectors/web-db.json\n  prescient predict --client c-1 --json | prescient vector validate -\n\nExit status 2 when the vector is invalid; --json prints {valid, issues:[{path, message}]}.',
    )
    .action(async (file: string, _opts: unknown, cmd: Command) => {
      const issues = checkUsageVector(await readJsonFile(file));
      emit(cmd, { file, valid: issues.length === 0, issues }, (r) =>
        r.valid ? `${file}: valid ${usageVectorSchemaVersion}` : [`${file}: ${issues.length} issue(s)`, ...issues.map((i) => `  ${i.path}: ${i.message}`)].join('\n'),
      );
      // The report above is the output (also with --json); only the exit status says "invalid",
      // so that scripts get one JSON document and not a second error object.
      if (issues.length > 0) process.exitCode = 2;
    });

  vector
    .command('schema')
    .description('print the usage vector JSON Schema (draft 2020-12) for other tools')
    .addHelpText('after', '\nExample:\n  prescient vector schema > usage-vector.schema.json')
    .action(() => {
      process.stdout.write(`${JSON.stringify(usageVectorJsonSchema(), null, 2)}\n`);
    });
};
