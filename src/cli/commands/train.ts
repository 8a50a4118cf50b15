import type { Command } from 'commander';
import { uncategorised } from '../../predict/store-history.js';
import { paths } from '../../core/config.js';
import { ValidationError } from '../../core/errors.js';
import type { ModelSet } from '../../predict/model-store.js';
import { join } from 'node:path';
import { programPackages } from '../../predict/program-packages.js';
import { archivePackageSizes } from '../../predict/archive-package-sizes.js';
import { train } from '../../predict/train.js';
import { addHistoryOptions, openHistory, type HistoryFlags } from '../history-option.js';
import { emit, globalOptions, table } from '../output.js';
import { createProgress } from '../progress.js';
import { cliSignal } from '../signal.js';
import type { CommandRegistration } from './command-registration.js';
import { plural } from '../plural.js';

interface TrainFlags extends HistoryFlags {
  category?: string;
  client?: string;
  network: boolean;
  timeBudget: string;
  baseRoot: string;
  archiveIndex: boolean;
}

export function renderModelSet(set: ModelSet): string {
  return [
    `trained ${set.scope.kind} ${set.scope.id} → version ${set.version} (${plural(set.profile.subjects, 'subject')}, from ${set.source})`,
    table(
      set.selections.map((s) => [s.target, s.selected, s.metric, s.candidates.map((c) => `${c.model}=${c.score.toFixed(3)}`).join(' ')]),
      ['target', 'selected', 'metric', 'backtest'],
    ),
    table(set.reports.map((r) => [r.modelId, r.samples, (r.durationMs / 1000).toFixed(1)]), ['model', 'samples', 'seconds']),
  ].join('\n');
}

export const registerTrain: CommandRegistration = (program: Command) => {
  const cmd = program
    .command('train')
    .description('train, backtest and select the models of a category (or one client) and store them as a new version')
    .option('--category <id>', 'train on every subject of this category (default: the dataset format name)')
    .option('--client <id>', 'train on one client only')
    .option('--no-network', 'skip the recurrent network (baselines and n-gram model only)')
    .option('--time-budget <seconds>', 'wall-clock budget; the network stops early, keeping its best epoch', '280')
    .option('--base-root <dir>', 'root of the base image whose dpkg file lists map programs to packages', '/')
    .option('--no-archive-index', "don't add the archive's Contents index (all packages of the base's release, downloaded once) nor its Packages index (package sizes, for the software set for the image)");
  addHistoryOptions(cmd)
    .addHelpText(
      'after',
      `
Models are stored under $PRESCIENT_HOME/models/<category-C|client-X>/vN.json with their training
reports and backtest figures; "current" points at the newest, which \`prescient predict\` loads.
Ctrl-C aborts cleanly; nothing is stored until the run completes.

Examples:
  prescient train --dataset ../shared/datasets/bitbrains-rnd-2013-7 --format bitbrains
  prescient train --dataset ../shared/datasets/schonlau --format commands --category commands
  prescient train --dataset ../shared/datasets/bitbrains-rnd-2013-7 --format bitbrains --client 17 --no-network`,
    )
    .action(async (flags: TrainFlags, command: Command) => {
      const { history, format, subjectOf } = await openHistory(flags);
      if (flags.category && flags.client) throw new ValidationError('--client', 'give --category or --client, not both');
      const budget = Number(flags.timeBudget);
      if (!(budget > 0)) throw new ValidationError('--time-budget', 'a positive number of seconds');
      const scope = flags.client ? { kind: 'client' as const, id: subjectOf(flags.client) } : { kind: 'category' as const, id: flags.category ?? format ?? uncategorised };
      const progress = createProgress({ quiet: globalOptions(command).quiet });
      try {
        progress.step('indexing programs → packages');
        const packageIndex = await programPackages({
          root: flags.baseRoot,
          archive: flags.archiveIndex,
          cacheDir: join(paths().packageCache, 'contents'),
          signal: cliSignal(),
          warn: (m) => process.stderr.write(`warning: ${m}\n`),
        });
        progress.detail(plural(packageIndex.size, 'program'));
        // What each package costs an image: the software set for the image is chosen against it.
        const packageSizes = flags.archiveIndex
          ? await archivePackageSizes({ codename: 'bookworm', cacheDir: join(paths().packageCache, 'contents'), signal: cliSignal() }).catch((e: unknown) => {
              process.stderr.write(`warning: the archive's Packages index is unavailable (${(e as Error).message}); no software set for the image\n`);
              return undefined;
            })
          : undefined;
        const set = await train({
          history,
          modelsDir: paths().models,
          scope,
          packageIndex,
          ...(packageSizes ? { packageSizes } : {}),
          network: flags.network,
          timeBudgetMs: budget * 1000,
          signal: cliSignal(),
          onStep: (l) => progress.step(l),
          onDetail: (d) => progress.detail(d),
        });
        progress.done();
        const { models: _weights, ...summary } = set;
        emit(command, summary as ModelSet, renderModelSet);
      } catch (e) {
        progress.fail((e as Error).message);
        throw e;
      }
    });
};
