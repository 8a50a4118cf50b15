import type { Command } from 'commander';
import { pushImage } from '../../registry/remote.js';
import { emit, globalOptions } from '../output.js';
import { createProgress } from '../progress.js';
import { cliSignal } from '../signal.js';
import { openHomeRegistry } from './images.js';
import type { CommandRegistration } from './command-registration.js';

export const pushCommand: CommandRegistration = (program: Command) => {
  program
    .command('push')
    .description('push a version to another OCI registry (same digest there)')
    .argument('<ref>', 'a local reference, e.g. clients/acme:v3')
    .argument('<destination>', 'host[:port]/repository[:tag], or any skopeo transport (docker://…, oci:…)')
    .option('--insecure', 'plain HTTP or unverified TLS (a registry on loopback)')
    .option('--creds <user:password>', 'credentials for the destination')
    .addHelpText('after', '\nExample:\n  prescient push clients/acme:latest 127.0.0.1:5000/clients/acme:v3 --insecure\n')
    .action(async (ref: string, destination: string, o: { insecure?: boolean; creds?: string }, cmd: Command) => {
      const progress = createProgress({ quiet: !!globalOptions(cmd).quiet });
      progress.step(`pushing ${ref}`);
      const r = await pushImage(await openHomeRegistry(), ref, destination, { insecure: !!o.insecure, ...(o.creds ? { creds: o.creds } : {}), signal: cliSignal() });
      progress.done();
      emit(cmd, r, (v) => `${v.destination} ${v.digest}`);
    });
};
