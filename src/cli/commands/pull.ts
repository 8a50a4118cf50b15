import type { Command } from 'commander';
import { resolve } from 'node:path';
import { ValidationError } from '../../core/errors.js';
import { pullImage } from '../../registry/remote.js';
import { parseImageRef } from '../../registry/reference.js';
import { emit, globalOptions } from '../output.js';
import { createProgress } from '../progress.js';
import { cliSignal } from '../signal.js';
import { openHomeRegistry } from './images.js';
import type { CommandRegistration } from './command-registration.js';

export const pullCommand: CommandRegistration = (program: Command) => {
  program
    .command('pull')
    .description('pull an image from another OCI registry into a local repository (blobs re-verified)')
    .argument('<source>', 'host[:port]/repository[:tag|@digest], or any skopeo transport')
    .argument('<ref>', 'local repository[:tag] to store it as (tag defaults to latest)')
    .option('--insecure', 'plain HTTP or unverified TLS (a registry on loopback)')
    .option('--creds <user:password>', 'credentials for the source')
    .option('--checkout <dir>', 'also materialise the qcow2 chain there (backing files rebuilt)')
    .addHelpText('after', '\nExample:\n  prescient pull 127.0.0.1:5000/clients/acme:v3 clients/acme:v3-mirror --insecure --checkout /tmp/acme\n')
    .action(async (source: string, target: string, o: { insecure?: boolean; creds?: string; checkout?: string }, cmd: Command) => {
      const ref = parseImageRef(target, '<ref>');
      if (ref.reference.startsWith('sha256:')) throw new ValidationError('<ref>', 'the local reference must be a tag');
      const registry = await openHomeRegistry();
      const progress = createProgress({ quiet: !!globalOptions(cmd).quiet });
      progress.step(`pulling ${source}`);
      const r = await pullImage(registry, source, ref.repository, ref.reference, { insecure: !!o.insecure, ...(o.creds ? { creds: o.creds } : {}), signal: cliSignal() });
      progress.done();
      let top: string | undefined;
      if (o.checkout) {
        progress.step('checking out the chain');
        top = (await registry.checkout(`${ref.repository}@${r.digest}`, resolve(o.checkout), cliSignal())).top;
        progress.done();
      }
      emit(cmd, { ...r, repository: ref.repository, tag: ref.reference, ...(top ? { top } : {}) }, (v) => `${v.repository}:${v.tag} ${v.digest}${v.version ? ` (v${v.version})` : ''}${v.top ? `\n${v.top}` : ''}`);
    });
};
