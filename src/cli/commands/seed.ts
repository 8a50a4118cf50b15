import { openPrescient } from '../../app/open-prescient.js';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { paths } from '../../core/config.js';
import { sshKeyStoreAt } from '../../login/ssh-key-store.js';
import { writeVersionSeed } from '../../pipeline/spec/version-seed.js';
import { emit } from '../output.js';
import type { CommandRegistration } from './command-registration.js';

export const seedCommand: CommandRegistration = (program) => {
  program
    .command('seed')
    .argument('<ref>', 'a registered version, e.g. clients/acme-1:latest')
    .argument('<dir>', 'folder for cloud-init/, cloud-init.iso and credentials.json')
    .option('--client <id>', "whose registered SSH keys the machine's user gets (default: the repository's client)")
    .description("make a new machine's cloud-init seed for a registered version: the client's user and keys, fresh service passwords")
    .addHelpText(
      'after',
      `
Every call is a new machine: new passwords (in credentials.json, mode 0600) and the instance id
of the client and version. Boot the checked-out image with the ISO as a CD-ROM (libvirt's
domain.xml from personalize does), or hand it to prescient verify --seed.

Example:
  prescient images checkout clients/acme-1:latest vm/ && prescient seed clients/acme-1:latest vm/`,
    )
    .action(async (ref: string, dir: string, opts: { client?: string }, cmd: Command) => {
      const p = paths();
      const client = opts.client ?? /^clients\/([^:@]+)/.exec(ref)?.[1];
      const login = client ? await sshKeyStoreAt(p.home).login(client) : undefined;
      const r = await writeVersionSeed({ registry: await (await openPrescient()).registry(), reference: ref, outDir: resolve(dir), ...(login ? { login } : {}) });
      emit(cmd, { seedDir: r.seedDir, seedIso: r.seedIso, credentials: r.credentialsFile, hostname: r.credentials.hostname, user: r.credentials.user ?? null, protectedServices: r.credentials.services.map((s) => s.service) }, (v) =>
        `${v.seedIso ?? v.seedDir} (host ${v.hostname}, ${v.user ? `user ${v.user}` : 'no login user: register a key with ssh-keys add'}); passwords in ${v.credentials}`,
      );
    });
};
