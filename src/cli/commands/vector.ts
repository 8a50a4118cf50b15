import type { Command } from 'commander';
import { ValidationError } from '../../core/errors.js';
import { usageVectorJsonSchema } from '../../usage-vector/json-schema.js';
import { usageVectorSchemaVersion } from '../../contracts/usage-vector.js';
import { completeUsageVector } from '../../usage-vector/hand-vector.js';
import { checkUsageVector } from '../../usage-vector/validate.js';
import { addHandSpecOptions, handSpecFromFlags, type HandSpecFlags } from '../hand-spec-options.js';
import { plural } from '../plural.js';
import { readJsonInput } from '../read-input.js';
import { emit } from '../output.js';
import type { CommandRegistration } from './command-registration.js';

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
      const issues = checkUsageVector(await readJsonInput(file, '<file>'));
      emit(cmd, { file, valid: issues.length === 0, issues }, (r) =>
        r.valid ? `${file}: valid ${usageVectorSchemaVersion}` : [`${file}: ${plural(issues.length, 'issue')}`, ...issues.map((i) => `  ${i.path}: ${i.message}`)].join('\n'),
      );
      // The report above is the output (also with --json); only the exit status says "invalid",
      // so that scripts get one JSON document and not a second error object.
      if (issues.length > 0) process.exitCode = 2;
    });

  addHandSpecOptions(
    vector
      .command('new')
      .description('write a complete usage vector from what you know: packages, allocation, ports, services (every field a model fills gets its default)')
      .option('--from <file>', 'a minimal vector to start from (JSON, or - for stdin); the flags override its fields'),
  )
    .addHelpText(
      'after',
      `
Defaults for what a model would fill: subject {category: hand-written}, horizon of 30 days from
now, model hand-written v1, confidence 1, probability 1, concurrency 1, no expected load beyond
the allocation, 1 vCPU, 1024 MiB, 10 GiB, no datasets, no outbound rules, no proxy.

Examples:
  prescient vector new --packages redis-server,git --vcpus 2 --memory 4GiB --disk 10GiB --ports 22,6379 --service redis
  prescient vector new --from minimal.json | prescient vector validate -`,
    )
    .action(async (o: HandSpecFlags & { from?: string }, cmd: Command) => {
      const from = o.from ? await readJsonInput(o.from, '--from') : {};
      if (typeof from !== 'object' || from === null || Array.isArray(from)) throw new ValidationError('--from', 'must be a JSON object');
      const v = completeUsageVector(handSpecFromFlags(o, from as Record<string, unknown>));
      // The vector is the output either way: JSON is its human form too.
      emit(cmd, v, (x) => JSON.stringify(x, null, 2));
    });

  vector
    .command('schema')
    .description('print the usage vector JSON Schema (draft 2020-12) for other tools')
    .addHelpText('after', '\nExample:\n  prescient vector schema > usage-vector.schema.json')
    .action(() => {
      process.stdout.write(`${JSON.stringify(usageVectorJsonSchema(), null, 2)}\n`);
    });
};
