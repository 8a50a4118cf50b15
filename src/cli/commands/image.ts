import type { Command } from 'commander';
import { paths } from '../../core/config.js';
import { ValidationError } from '../../core/errors.js';
import { gatherFacts, summarizeFacts, type ImageFacts } from '../../image/facts.js';
import { withImageSession } from '../../image/open.js';
import { cleanupStaleSessions } from '../../image/runtime-state.js';
import { backendNames, type BackendName } from '../../image/session.js';
import { emit, formatBytes, globalOptions, table } from '../output.js';
import { createProgress } from '../progress.js';
import { cliSignal } from '../signal.js';
import type { CommandRegistration } from './command-registration.js';

interface BackendOption {
  backend?: string;
}

function backendOf(opts: BackendOption): BackendName | 'auto' {
  const b = opts.backend ?? 'auto';
  if (b !== 'auto' && !(backendNames as readonly string[]).includes(b)) throw new ValidationError('--backend', `must be auto, ${backendNames.join(' or ')}`);
  return b as BackendName | 'auto';
}

const backendHelp = `how to open the image: auto (mount when run as root with FUSE and loop devices, else guestfs), ${backendNames.join(', ')}`;

function describeFacts(f: ImageFacts): string {
  return [
    `image:     ${f.image} (${f.format})`,
    ...(f.backingChain.length ? [`backing:   ${f.backingChain.join(' → ')}`] : []),
    `system:    ${summarizeFacts(f)}`,
    `disk:      ${formatBytes(f.virtualSizeBytes)} virtual, ${formatBytes(f.actualSizeBytes)} on disk (whole chain), ${f.disk.table} table`,
    ...f.disk.partitions.map((p) => `  #${p.number}  ${(p.filesystem ?? '-').padEnd(6)} ${formatBytes(p.sizeBytes).padStart(10)} at ${p.offsetBytes}${p.label ? ` label=${p.label}` : ''}${p.number === f.disk.rootPartition ? '  (root)' : ''}`),
    `root fs:   ${formatBytes(f.rootFilesystem.usedBytes)} used, ${formatBytes(f.rootFilesystem.freeBytes)} free`,
    `services:  ${f.services.join(' ') || '(none enabled)'}`,
  ].join('\n');
}

export const imageCommand: CommandRegistration = (program) => {
  const image = program
    .command('image')
    .description('look into and run commands in any qcow2 or raw image (or an overlay on one)')
    .addHelpText('after', '\nEvery subcommand opens the image read-only unless told otherwise (exec --write).');

  image
    .command('info')
    .argument('<image>', 'qcow2 or raw file')
    .option('--backend <name>', backendHelp, 'auto')
    .option('--packages', 'list every installed package in the human output')
    .description('distribution, architecture, partitions, filesystems, packages, services and sizes of an image')
    .action(async (file: string, opts: BackendOption & { packages?: boolean }, cmd: Command) => {
      const progress = createProgress({ quiet: globalOptions(cmd).quiet });
      progress.step(`open ${file}`);
      const facts = await withImageSession(file, { readOnly: true, backend: backendOf(opts), signal: cliSignal() }, gatherFacts);
      progress.done();
      emit(cmd, facts, (f) => describeFacts(f) + (opts.packages ? `\n${table(f.packages.map((p) => [p.name, p.version, p.architecture]))}` : ''));
    });

  image
    .command('ls')
    .argument('<image>', 'qcow2 or raw file')
    .argument('[path]', 'guest folder', '/')
    .option('--backend <name>', backendHelp, 'auto')
    .description('list a folder inside the image (symlinks are resolved inside the guest, never on the host)')
    .action(async (file: string, path: string, opts: BackendOption, cmd: Command) => {
      const entries = await withImageSession(file, { readOnly: true, backend: backendOf(opts), signal: cliSignal() }, async (s) => {
        const list = await s.list(path);
        return Promise.all(
          list.map(async (e) => {
            const st = await s.lstat(`${path.replace(/\/$/, '')}/${e.name}`);
            return { ...e, mode: st?.mode ?? 0, uid: st?.uid ?? 0, gid: st?.gid ?? 0, size: st?.size ?? 0, ...(e.type === 'symlink' ? { target: await s.readlink(`${path.replace(/\/$/, '')}/${e.name}`) } : {}) };
          }),
        );
      });
      emit(cmd, entries, (list) => table(list.map((e) => [e.type[0] === 'f' ? '-' : e.type[0], e.mode.toString(8).padStart(4, '0'), `${e.uid}:${e.gid}`, e.size, e.name + ('target' in e ? ` -> ${e.target}` : '')])));
    });

  image
    .command('cat')
    .argument('<image>', 'qcow2 or raw file')
    .argument('<path>', 'guest file')
    .option('--backend <name>', backendHelp, 'auto')
    .description('print a file from inside the image (only regular files: never a device or fifo)')
    .action(async (file: string, path: string, opts: BackendOption, cmd: Command) => {
      const data = await withImageSession(file, { readOnly: true, backend: backendOf(opts), signal: cliSignal() }, (s) => s.readFile(path));
      if (globalOptions(cmd).json) emit(cmd, { path, size: data.length, content: data.toString('utf8') }, () => '');
      else process.stdout.write(data);
    });

  image
    .command('exec')
    .argument('<image>', 'qcow2 or raw file')
    .argument('<command...>', 'program and arguments, run inside the guest (put -- before options meant for it)')
    .option('--backend <name>', backendHelp, 'auto')
    .option('--write', 'open the image read-write, so the command may change it (make an overlay first to keep the original)')
    .option('--timeout <seconds>', 'kill the command after this long', '600')
    .description("run a command inside the image's root, sandboxed (systemd-nspawn: guest root is an unprivileged host uid, no host network)")
    .addHelpText('after', "\nExit status: the command's own once it ran (--json: {exitCode, stdout, stderr}); before that, Prescient's.\n\nExamples:\n  prescient image exec disk.qcow2 -- cat /etc/os-release\n  prescient image exec --write overlay.qcow2 -- apt-get install -y nginx")
    .action(async (file: string, argv: string[], opts: BackendOption & { write?: boolean; timeout: string }, cmd: Command) => {
      const timeout = Number(opts.timeout);
      if (!Number.isFinite(timeout) || timeout <= 0) throw new ValidationError('--timeout', 'must be a positive number of seconds');
      const result = await withImageSession(file, { readOnly: !opts.write, backend: backendOf(opts), signal: cliSignal() }, (s) =>
        s.exec(argv, { timeoutMs: timeout * 1000, allowFailure: true, signal: cliSignal() }),
      );
      if (globalOptions(cmd).json) emit(cmd, result, () => '');
      else {
        process.stdout.write(result.stdout);
        process.stderr.write(result.stderr);
      }
      process.exitCode = result.exitCode;
    });

  image
    .command('cleanup')
    .description('detach what killed runs left behind (mounts, FUSE exports, daemons); done automatically at the next open')
    .action(async (_opts: unknown, cmd: Command) => {
      const cleaned = await cleanupStaleSessions(paths().runtime);
      emit(cmd, { cleaned }, (r) => (r.cleaned.length ? `cleaned ${r.cleaned.length} stale session(s): ${r.cleaned.join(', ')}` : 'nothing to clean'));
    });
};
