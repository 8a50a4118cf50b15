import type { Command } from 'commander';
import { emit, globalOptions } from '../output.js';
import { createProgress } from '../progress.js';
import { cliSignal } from '../signal.js';
import { openHomeRegistry } from './images.js';
import type { CommandRegistration } from './command-registration.js';
import { plural } from '../plural.js';

export const registryCommand: CommandRegistration = (program: Command) => {
  const registry = program.command('registry').description('The image registry store itself (an OCI image layout under PRESCIENT_HOME)');
  registry
    .command('fsck')
    .description('Verify every blob against its digest and every reference (index → manifests → config, layers)')
    .option('--repair', 'remove leftovers of interrupted writes (never stored data)')
    .addHelpText('after', '\nExit status 1 when a problem other than a leftover is found.\n\nExample:\n  prescient registry fsck --repair\n')
    .action(async (o: { repair?: boolean }, cmd: Command) => {
      const progress = createProgress({ quiet: !!globalOptions(cmd).quiet });
      progress.step('verifying blobs and references');
      const r = await (await openHomeRegistry()).fsck({ repair: !!o.repair, signal: cliSignal() });
      progress.done(plural(r.blobsChecked, 'blob'));
      emit(cmd, r, (v) => [`${v.ok ? 'clean' : 'PROBLEMS'}: ${plural(v.blobsChecked, 'blob')}, ${plural(v.manifestsChecked, 'manifest')} checked${v.repaired ? `, ${plural(v.repaired, 'leftover')} removed` : ''}`, ...v.problems.map((p) => `  ${p.kind}: ${p.digest ?? p.path ?? ''} ${p.message}`)].join('\n'));
      if (!r.ok) process.exitCode = 1;
    });
  registry
    .command('path')
    .description('Print the layout folder (usable directly as `oci:<path>:<repository>:<tag>` by skopeo)')
    .action(async (_o: unknown, cmd: Command) => {
      const r = await openHomeRegistry();
      emit(cmd, { path: r.root }, (v) => v.path);
    });
};
