import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Command } from 'commander';
import { ValidationError } from '../../core/errors.js';
import { sampleClients, sampleTelemetry } from '../../demo/sample-telemetry.js';
import type { CommandRegistration } from './command-registration.js';

interface SampleFlags {
  days: string;
  end?: string;
  seed: string;
  out?: string;
}

/** Synthetic telemetry for trying Prescient out (the quickstart ingests it). */
export const sampleTelemetryCommand: CommandRegistration = (program: Command) => {
  program
    .command('sample-telemetry')
    .description('write SYNTHETIC telemetry (NDJSON) for a few made-up clients of different kinds: resources, launches, flows')
    .option('--days <n>', 'days of history per client', '14')
    .option('--end <iso>', 'end of the period (default: the start of the current hour)')
    .option('--seed <n>', 'random seed (the same seed and end give the same events)', '1')
    .option('-o, --out <file>', 'write here instead of stdout')
    .addHelpText(
      'after',
      `
Clients (none of them real): ${sampleClients.map((c) => `${c.id} (${c.category}: ${c.chains.flat().filter((p, i, a) => a.indexOf(p) === i).slice(0, 4).join(', ')}…)`).join('; ')}.

Examples:
  prescient sample-telemetry --out /tmp/sample.ndjson && prescient ingest /tmp/sample.ndjson --format ndjson
  prescient sample-telemetry --days 2 | curl -u admin:<secret> -H 'content-type: application/x-ndjson' --data-binary @- http://127.0.0.1:5080/v1/telemetry`,
    )
    .action(async (flags: SampleFlags) => {
      const days = Number(flags.days);
      if (!(days > 0 && days <= 366)) throw new ValidationError('--days', 'a number of days from 1 to 366');
      const seed = Number(flags.seed);
      if (!Number.isInteger(seed)) throw new ValidationError('--seed', 'an integer');
      const endMs = flags.end === undefined ? undefined : Date.parse(flags.end);
      if (endMs !== undefined && !Number.isFinite(endMs)) throw new ValidationError('--end', 'an ISO 8601 time such as 2026-11-29T00:00:00Z');
      const out = flags.out ? createWriteStream(flags.out) : process.stdout;
      for (const event of sampleTelemetry({ days, seed, ...(endMs === undefined ? {} : { endMs }) })) {
        if (!out.write(`${JSON.stringify(event)}\n`)) await once(out, 'drain');
      }
      if (flags.out) await new Promise<void>((resolve, reject) => (out as ReturnType<typeof createWriteStream>).end((e?: Error | null) => (e ? reject(e) : resolve())));
    });
};
