import type { Command } from 'commander';
import { paths } from '../../core/config.js';
import { ValidationError } from '../../core/errors.js';
import { createPredictor } from '../../predict/predict-vector.js';
import type { UsageVector } from '../../contracts/usage-vector.js';
import { addHistoryOptions, openHistory, type HistoryFlags } from '../history-option.js';
import { policyFile, policySource } from '../../policy/policy.js';
import { emit } from '../output.js';
import { cliSignal } from '../signal.js';
import type { CommandRegistration } from './command-registration.js';

interface PredictFlags extends HistoryFlags {
  client?: string;
  category?: string;
  horizonHours: string;
}

function renderVector(v: UsageVector): string {
  const r = v.resources;
  return [
    `${v.subject.clientId ? `client ${v.subject.clientId}` : ''}${v.subject.category ? ` category ${v.subject.category}` : ''} — next ${v.horizon.hours} h, confidence ${v.confidence}, model ${v.model.id}@${v.model.version}`,
    `resources: ${r.vcpus} vCPU (p95 ${r.expectedP95CpuPercent} %), ${r.memoryMiB} MiB (p95 ${r.expectedP95MemoryMiB} MiB), ${r.diskGiB} GiB disk, disk ${r.diskReadKBps}/${r.diskWriteKBps} KB/s r/w, net ${r.networkInKBps}/${r.networkOutKBps} KB/s in/out`,
    `software: ${v.software.map((s) => `${s.name} ${s.probability}`).join(', ') || '(none)'}`,
    `services: ${v.services.map((s) => s.name).join(', ') || '(none)'}`,
    `inbound: ${v.network.inbound.map((p) => `${p.port}/${p.protocol}`).join(', ') || '(none)'}`,
    `datasets: ${v.datasets.map((d) => d.destination).join(', ') || '(none)'}`,
  ].join('\n');
}

export const registerPredict: CommandRegistration = (program: Command) => {
  const cmd = program
    .command('predict')
    .description('predict the usage vector of a client (or a category) for the next period')
    .option('--client <id>', 'the client (ID), or any subject as KIND:ID (vm:web-1); with no history of its own it gets its category\'s vector')
    .option('--category <id>', 'the category (for a client: overrides the one in its history)')
    .option('--horizon-hours <h>', 'length of the period: 1 uses the next-hour forecasts, more the next-day ones', '24');
  addHistoryOptions(cmd)
    .addHelpText(
      'after',
      `
The vector is validated against ${'prescient.dev/usage-vector/v1'} before it is printed; --json prints
the vector itself (pipe it to \`prescient vector validate -\`). A category that was never trained
gets the documented default (2 vCPU, 2 GiB, 20 GiB, nothing installed, confidence 0).

Examples:
  prescient predict --dataset ../shared/datasets/bitbrains-rnd-2013-7 --format bitbrains --client 17 --json
  prescient predict --dataset ../shared/datasets/schonlau --format commands --client User3
  prescient predict --dataset ../shared/datasets/bitbrains-rnd-2013-7 --format bitbrains --category bitbrains`,
    )
    .action(async (flags: PredictFlags, command: Command) => {
      if (!flags.client && !flags.category) throw new ValidationError('--client', 'give --client or --category');
      const hours = Number(flags.horizonHours);
      if (!(hours > 0)) throw new ValidationError('--horizon-hours', 'a positive number');
      const { history, subjectOf } = await openHistory(flags);
      const predictor = createPredictor({ history, modelsDir: paths().models, policy: policySource(policyFile(paths())) });
      const vector = await predictor.predict({
        ...(flags.client ? { clientId: subjectOf(flags.client) } : {}),
        ...(flags.category ? { category: flags.category } : {}),
        horizonHours: hours,
        signal: cliSignal(),
      });
      emit(command, vector, renderVector);
    });
};
