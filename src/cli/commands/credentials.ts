import type { Command } from 'commander';
import { paths } from '../../core/config.js';
import { Credentials } from '../../grants/credentials.js';
import { emit } from '../output.js';
import type { CommandRegistration } from './index.js';

export const credentialsCommand: CommandRegistration = (program: Command) => {
  const credentials = program
    .command('credentials')
    .description('Client and admin credentials for the token flow of `prescient serve` (kept under <home>/secrets)');
  credentials
    .command('issue')
    .description("Create or replace a client's credential; the secret is printed once and stored only hashed")
    .argument('<clientId>', 'the client; it may pull clients/<clientId> and nothing else')
    .addHelpText('after', '\nExamples:\n  prescient credentials issue acme\n  skopeo copy --src-tls-verify=false --src-creds acme:<secret> docker://127.0.0.1:5080/clients/acme:latest oci:/tmp/acme:latest\n')
    .action(async (clientId: string, _options: unknown, cmd: Command) => {
      const store = await Credentials.open(paths().secrets);
      emit(cmd, await store.issue(clientId), (c) => `username: ${c.username}\nsecret:   ${c.secret}\n(shown once: keep it)`);
    });
  credentials
    .command('admin')
    .description('Print the admin credential (generated once; anyone who can read <home>/secrets is the admin)')
    .action(async (_options: unknown, cmd: Command) => {
      const store = await Credentials.open(paths().secrets);
      emit(cmd, store.admin, (a) => `username: ${a.username}\nsecret:   ${a.secret}`);
    });
};
