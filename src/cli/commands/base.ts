import type { Command } from 'commander';
import { paths } from '../../core/config.js';
import { PermissionDeniedError } from '../../core/errors.js';
import { buildDebianBase, type BaseImage } from '../../image/bases/build.js';
import { baseStatus, namesOnOutdatedBases, listBases } from '../../image/bases/catalog.js';
import { importBase } from '../../image/bases/import.js';
import { baseRecipeNames, recipeFor } from '../../image/bases/recipes.js';
import { summarizeFacts } from '../../image/facts.js';
import { emit, formatBytes, globalOptions, table } from '../output.js';
import { createProgress } from '../progress.js';
import { cliSignal } from '../signal.js';
import type { CommandRegistration } from './command-registration.js';

function describeBase(b: Omit<BaseImage, 'cached'> & { cached?: boolean }): string {
  const f = b.facts;
  const parts = f.disk.partitions.map((p) => `#${p.number} ${p.filesystem ?? '?'} ${formatBytes(p.sizeBytes)}${p.number === f.disk.rootPartition ? ' (root)' : ''}`);
  return [
    `${b.name}-${b.key}${b.cached === undefined ? '' : b.cached ? '  (cached)' : '  (built)'}`,
    `  image:        ${b.path}`,
    `  system:       ${summarizeFacts(f)}`,
    `  disk:         ${formatBytes(f.virtualSizeBytes)} virtual, ${formatBytes(f.actualSizeBytes)} on disk, ${f.disk.table} table: ${parts.join(', ')}`,
    `  root fs:      ${formatBytes(f.rootFilesystem.usedBytes)} used of ${formatBytes(f.rootFilesystem.sizeBytes)}`,
    `  services:     ${f.services.join(' ') || '(none enabled)'}`,
  ].join('\n');
}

export const baseCommand: CommandRegistration = (program) => {
  const base = program.command('base').description('build, import and list base images (the images personalisation starts from)');

  base
    .command('build')
    .argument('<recipe>', `what to build: ${baseRecipeNames.join(', ')}`)
    .description('build a base image from the distribution archive (cached by recipe: a second build is instant)')
    .option('--mirror <url>', 'Debian mirror (default: $PRESCIENT_DEBIAN_MIRROR or http://deb.debian.org/debian)')
    .option('--accept-expired-release', 'let apt in the guest accept expired Release files (archive snapshots)')
    .addHelpText(
      'after',
      '\nExamples:\n  prescient base build debian-12\n  prescient --json base build debian-12 | jq .facts.os\n\n' +
        'The image is a qcow2 with an MBR, one ext4 root partition (LABEL=root), a kernel, systemd and apt;\n' +
        'it boots with QEMU direct kernel boot (/vmlinuz, /initrd.img). Needs root (debootstrap).',
    )
    .action(async (recipeName: string, opts: { mirror?: string; acceptExpiredRelease?: boolean }, cmd: Command) => {
      // debootstrap, chroot and mkfs of a root filesystem need root; say so before any work.
      if (process.geteuid?.() !== 0) throw new PermissionDeniedError("base build needs root (debootstrap): run it as root (sudo prescient base build debian-12), or take an existing image with 'prescient base import FILE'");
      const p = paths();
      const progress = createProgress({ quiet: globalOptions(cmd).quiet });
      const recipe = recipeFor(recipeName, {
        ...(opts.mirror ? { mirror: opts.mirror } : {}),
        ...(opts.acceptExpiredRelease ? { acceptExpiredRelease: true } : {}),
      });
      try {
        const result = await buildDebianBase(recipe, { basesDir: p.bases, runtimeDir: p.runtime, signal: cliSignal(), progress });
        progress.done();
        emit(cmd, result, describeBase);
      } catch (e) {
        progress.fail((e as Error).message.split('\n')[0] ?? '');
        throw e;
      }
    });

  base
    .command('import')
    .argument('<file>', 'a qcow2 or raw image (standalone: no backing file)')
    .description('take an existing image as a base and record its facts (distribution, version, partitions, packages, sizes)')
    .option('--name <name>', 'name for the base (default: from the file name)')
    .addHelpText('after', '\nExample:\n  prescient base import debian-12-genericcloud-amd64.qcow2 --name debian-12-cloud')
    .action(async (file: string, opts: { name?: string }, cmd: Command) => {
      const p = paths();
      const progress = createProgress({ quiet: globalOptions(cmd).quiet });
      const result = await importBase(file, { basesDir: p.bases, runtimeDir: p.runtime, signal: cliSignal(), progress, ...(opts.name ? { name: opts.name } : {}) });
      progress.done();
      emit(cmd, result, describeBase);
    });

  base
    .command('ls')
    .description('list the base images on this machine')
    .action(async (_opts: unknown, cmd: Command) => {
      const bases = (await listBases(paths().bases)).map((b) => ({ ...b, status: baseStatus(b) }));
      emit(cmd, bases, (list) =>
        list.length === 0
          ? 'no base images yet: prescient base build debian-12'
          : [
              table(
                list.map((b) => [`${b.name}-${b.key}`, b.status, b.facts.os.prettyName ?? b.facts.os.id, b.facts.architecture, b.facts.packages.length, formatBytes(b.facts.actualSizeBytes), b.path]),
                ['BASE', 'STATUS', 'SYSTEM', 'ARCH', 'PACKAGES', 'ON DISK', 'PATH'],
              ),
              ...namesOnOutdatedBases(list).map((name) => `\n${name}: every base of this name was built by an older recipe, and images start from the newest; 'prescient base build ${name}' builds the current one`),
            ].join('\n'),
      );
    });
};
