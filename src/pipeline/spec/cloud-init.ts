import { chmod, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { makePrivateDir, writePrivateFile } from '../../core/private-file.js';
import { z } from 'zod';
import { hasCommand, run } from '../../core/exec.js';
import { ValidationError } from '../../core/errors.js';
import { firstIssueError } from '../../core/field-issues.js';
import { guestPathPattern } from '../../contracts/usage-vector.js';

/**
 * A cloud-init NoCloud seed for what truly belongs to one machine — the instance id, the host
 * name, the client's user and SSH keys, the services' generated passwords, and any file another
 * part adds (the in-guest agent's credential) — and nothing that could have been prepared in
 * an image layer. The seed is per request, so it is the only way a secret reaches a machine.
 * Written as files (mode 0600: it holds secrets) and as a `cidata` ISO when genisoimage is there.
 */
export const sshPublicKeyPattern = /^(ssh-(rsa|ed25519|dss)|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,3}( [^\n\r]{0,256})?$/;

/** A login name the guest's useradd accepts, and not one of the system's own accounts. */
export const loginNamePattern = /^[a-z_][a-z0-9_-]{0,30}$/;
const reservedLogins = new Set(['root', 'daemon', 'bin', 'sys', 'sync', 'games', 'man', 'lp', 'mail', 'news', 'uucp', 'proxy', 'www-data', 'backup', 'list', 'irc', 'nobody', 'postgres', 'redis', 'mysql', 'memcache', 'sshd', 'messagebus', 'systemd-network', 'systemd-timesync', 'systemd-resolve', '_apt']);

export const seedFileSchema = z.strictObject({
  path: z.string().regex(guestPathPattern, 'must be an absolute, normalised guest path'),
  content: z.string().max(1024 * 1024),
  /** user:group, resolved in the guest at first boot. */
  owner: z.string().regex(/^[a-z_][a-z0-9_-]*:[a-z_][a-z0-9_-]*$/),
  permissions: z.string().regex(/^0[0-7]{3}$/),
});
export type SeedFile = z.infer<typeof seedFileSchema>;

export const seedLoginSchema = z.strictObject({
  user: z.string().regex(loginNamePattern, 'lower-case letters, digits, _ and -, starting with a letter or _').refine((u) => !reservedLogins.has(u), 'a system account of the guest'),
  sshAuthorizedKeys: z.array(z.string().regex(sshPublicKeyPattern, 'not an OpenSSH public key')).min(1).max(64),
});
export type SeedLogin = z.infer<typeof seedLoginSchema>;

export interface SeedInput {
  instanceId: string;
  hostname: string;
  /** The client's user: created at first boot with these keys, passwordless sudo, no password. */
  login?: SeedLogin;
  /** Files written at first boot, before the services start (secrets: mode 0600/0640). */
  files?: readonly SeedFile[];
  /** Extra cloud-config keys, e.g. the first-boot install the benchmark compares with. */
  extraCloudConfig?: Record<string, unknown>;
}

function parsed<T>(schema: z.ZodType<T>, value: unknown, field: string): T {
  const r = schema.safeParse(value);
  if (!r.success) throw firstIssueError(r.error, { root: field });
  return r.data;
}

/**
 * meta-data and user-data. user-data is JSON after the `#cloud-config` line (YAML is a superset
 * of JSON), so no key, path or content can break out of its string.
 */
export function seedFiles(input: SeedInput): { 'meta-data': string; 'user-data': string } {
  const login = input.login ? parsed(seedLoginSchema, input.login, 'login') : undefined;
  const files = (input.files ?? []).map((f, i) => parsed(seedFileSchema, f, `files[${i}]`));
  const seen = new Set<string>();
  for (const [i, f] of files.entries()) {
    if (seen.has(f.path)) throw new ValidationError(`files[${i}].path`, `${f.path} is written twice`);
    seen.add(f.path);
  }
  const config: Record<string, unknown> = {
    hostname: input.hostname,
    preserve_hostname: false,
    manage_etc_hosts: true,
    ssh_pwauth: false,
    disable_root: true,
    users: login
      ? [{ name: login.user, groups: ['sudo'], shell: '/bin/bash', sudo: 'ALL=(ALL) NOPASSWD:ALL', lock_passwd: true, ssh_authorized_keys: login.sshAuthorizedKeys }]
      : [],
    ...(files.length ? { write_files: files.map((f) => ({ path: f.path, content: f.content, owner: f.owner, permissions: f.permissions })) } : {}),
    ...(input.extraCloudConfig ?? {}),
  };
  return {
    'meta-data': `instance-id: ${JSON.stringify(input.instanceId)}\nlocal-hostname: ${JSON.stringify(input.hostname)}\n`,
    'user-data': `#cloud-config\n${JSON.stringify(config, null, 2)}\n`,
  };
}

export async function writeSeed(dir: string, input: SeedInput): Promise<{ dir: string; iso?: string }> {
  const files = seedFiles(input);
  await makePrivateDir(dir);
  for (const [name, content] of Object.entries(files)) await writePrivateFile(join(dir, name), content);
  const iso = `${dir}.iso`;
  await rm(iso, { force: true });
  if (!(await hasCommand('genisoimage'))) return { dir };
  await run('genisoimage', ['-quiet', '-output', iso, '-volid', 'cidata', '-joliet', '-rock', join(dir, 'user-data'), join(dir, 'meta-data')]);
  // Only its owner reads it: libvirt hands it to QEMU by relabelling (dynamic_ownership).
  await chmod(iso, 0o600);
  return { dir, iso };
}
