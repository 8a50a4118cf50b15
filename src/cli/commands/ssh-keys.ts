import type { Command } from 'commander';
import { checkClientId } from '../../contracts/identifiers.js';
import { paths } from '../../core/config.js';
import { parsePublicKey, sshKeyFingerprint, sshKeyStoreAt } from '../../login/ssh-key-store.js';
import { emit, table } from '../output.js';
import { plural } from '../plural.js';
import { readInput } from '../read-input.js';
import type { CommandRegistration } from './command-registration.js';

export const sshKeysCommand: CommandRegistration = (program) => {
  const cmd = program
    .command('ssh-keys')
    .description("A client's SSH public keys and user name: every image made for it lets that user log in with them")
    .addHelpText(
      'after',
      `
The keys travel in each machine's cloud-init seed (never in an image layer). The user gets
passwordless sudo; password login and root login stay off. Comments (user@host) are dropped.

Examples:
  prescient ssh-keys add acme-1 ~/.ssh/id_ed25519.pub --user alice
  prescient ssh-keys ls acme-1
  prescient ssh-keys rm acme-1 SHA256:…`,
    );
  cmd
    .command('add')
    .argument('<client>', 'client id')
    .argument('<file>', 'an OpenSSH public key file (.pub), or - for stdin')
    .option('--user <name>', 'the login name on its machines (kept for later keys)')
    .description('register a public key for the client')
    .action(async (client: string, file: string, opts: { user?: string }, command: Command) => {
      checkClientId(client, '<client>');
      const text = (await readInput(file, '<file>')).toString('utf8');
      // Parsed here too so that a bad file is named as the user gave it, and the message names this key
      // (the store keeps a key it already has where it was, so the last one may be another).
      const fingerprint = sshKeyFingerprint(parsePublicKey(text, '<file>'));
      const store = sshKeyStoreAt(paths().home);
      const known = (await store.get(client))?.keys.some((k) => k.fingerprint === fingerprint) ?? false;
      const r = await store.add(client, text, opts.user ? { user: opts.user } : {});
      emit(command, r, (v) => `${client}: user ${v.user}, ${plural(v.keys.length, 'key')}; ${known ? 'already had' : 'added'} ${fingerprint}`);
    });
  cmd
    .command('ls')
    .argument('<client>', 'client id')
    .description("list the client's user and key fingerprints")
    .action(async (client: string, _o: unknown, command: Command) => {
      checkClientId(client, '<client>');
      const r = (await sshKeyStoreAt(paths().home).get(client)) ?? { user: '(none)', keys: [] };
      emit(command, r, (v) => `user ${v.user}\n${table(v.keys.map((k) => [k.fingerprint, k.key.split(' ')[0]!, k.addedAt]), ['FINGERPRINT', 'TYPE', 'ADDED'])}`);
    });
  cmd
    .command('rm')
    .argument('<client>', 'client id')
    .argument('<fingerprint>', 'as ssh-keys ls prints it')
    .description('remove a key (machines made from now on no longer accept it)')
    .action(async (client: string, fingerprint: string, _o: unknown, command: Command) => {
      checkClientId(client, '<client>');
      const r = await sshKeyStoreAt(paths().home).remove(client, fingerprint);
      emit(command, r, (v) => `${client}: ${plural(v.keys.length, 'key')} left`);
    });
};
