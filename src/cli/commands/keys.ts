import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { paths } from '../../core/config.js';
import { keyringPath, loadOrCreateKeyring, rotateKeyring } from '../../telemetry/pseudonym-keys.js';
import { emit, table } from '../output.js';
import type { CommandRegistration } from './command-registration.js';

export const keysCommand: CommandRegistration = (program) => {
  const keys = program
    .command('keys')
    .description('the HMAC keys that turn user, client and VM identifiers into pseudonyms')
    .addHelpText(
      'after',
      `
The key is generated on first use under $PRESCIENT_HOME/secrets (mode 0600). Rotating starts a
new key for everything ingested from then on; pseudonyms made before cannot be linked to new
ones. Old keys are kept, unless --drop-old, only so that earlier consent is still honoured and a
revoke still reaches earlier in-guest data. A running "prescient serve" keeps the key it
started with: restart it after a rotation.

Examples:
  prescient keys ls
  prescient keys rotate
  prescient keys rotate --drop-old`,
    );
  keys
    .command('ls')
    .description('list key ids and creation times (never the keys)')
    .action((_opts: unknown, command: Command) => {
      // Listing creates nothing: without a keyring there is no key to list yet.
      const secrets = paths().secrets;
      const ring = existsSync(keyringPath(secrets)) ? loadOrCreateKeyring(secrets) : { keys: [] };
      const out = ring.keys.map((k, i) => ({ id: k.id, createdAt: k.createdAt, current: i === 0 }));
      emit(command, out, (v) => v.length === 0 ? 'no key yet: one is made at the first ingest (or prescient keys rotate)' : table(v.map((k) => [k.id, k.createdAt, k.current ? 'current' : 'kept for consent']), ['ID', 'CREATED', 'USE']));
    });
  keys
    .command('rotate')
    .description('start a new pseudonym key')
    .option('--drop-old', 'forget the previous keys too')
    .action((opts: { dropOld?: boolean }, command: Command) => {
      const ring = rotateKeyring(paths().secrets, { dropOld: opts.dropOld === true });
      // k1 is only ever current when it was just made: rotateKeyring starts a fresh home with it.
      emit(command, { current: ring.keys[0]!.id, kept: ring.keys.length - 1, first: ring.keys[0]!.id === 'k1' }, (v) =>
        v.first ? `new key ${v.current}: the first one (there was no key yet)` : `new key ${v.current}; ${v.kept} older kept${opts.dropOld ? ' (--drop-old)' : ''}`,
      );
    });
};
