import type { Command } from 'commander';
import { paths } from '../../core/config.js';
import { ValidationError } from '../../core/errors.js';
import { dockerRegistryAuthYaml } from '../../grants/docker-registry-auth.js';
import { TokenSigner } from '../../grants/token-signer.js';
import { emit, globalOptions } from '../output.js';
import { createProgress } from '../progress.js';
import { cliSignal } from '../signal.js';
import { openHomeRegistry } from './images.js';
import type { CommandRegistration } from './command-registration.js';
import { plural } from '../plural.js';

export const registryCommand: CommandRegistration = (program: Command) => {
  const registry = program.command('registry').description('the image registry store itself (an OCI image layout under PRESCIENT_HOME)');
  registry
    .command('fsck')
    .description('verify every blob against its digest and every reference (index → manifests → config, layers)')
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
    .description('print the layout folder (usable directly as `oci:<path>:<repository>:<tag>` by skopeo)')
    .action(async (_o: unknown, cmd: Command) => {
      const r = await openHomeRegistry();
      emit(cmd, { path: r.root }, (v) => v.path);
    });
  registry
    .command('cert')
    .description("print the certificate that signs Prescient's registry tokens: an external docker-registry trusts it (auth.token.rootcertbundle)")
    .option('--realm <url>', "print instead docker-registry's auth: section for serve at this URL (its token endpoint is <url>/v1/token)")
    .option('--cert-file <path>', 'where that registry reads the certificate (in the printed section)', '/etc/docker/registry/prescient-token.crt')
    .addHelpText(
      'after',
      `
The key and certificate are made once per home (<home>/secrets/registry-token.pem, 0600).
Examples:
  prescient registry cert > /etc/docker/registry/prescient-token.crt
  prescient registry cert --realm https://prescient.example.com >> /etc/docker/registry/config.yml
`,
    )
    .action(async (o: { realm?: string; certFile: string }, cmd: Command) => {
      const signer = await TokenSigner.open(paths().secrets, cliSignal());
      if (o.realm !== undefined) {
        let url: URL;
        try {
          url = new URL(o.realm);
        } catch {
          throw new ValidationError('--realm', 'expected the URL clients reach serve at, e.g. https://prescient.example.com');
        }
        if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ValidationError('--realm', 'expected http:// or https://');
        const realm = `${url.href.replace(/\/+$/, '')}/v1/token`;
        const yaml = dockerRegistryAuthYaml({ realm, certificateFile: o.certFile });
        emit(cmd, { realm, certificateFile: o.certFile, auth: yaml }, (v) => v.auth.trimEnd());
        return;
      }
      emit(cmd, { certificate: signer.certificatePem }, (v) => v.certificate.trimEnd());
    });
};
