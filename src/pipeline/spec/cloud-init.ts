import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hasCommand, run } from '../../core/exec.js';
import { ValidationError } from '../../core/errors.js';

/**
 * A cloud-init NoCloud seed for what truly belongs to first boot — the instance id, the host
 * name, SSH keys — and nothing that could have been prepared in the image. Written as files,
 * and as a `cidata` ISO when genisoimage is installed.
 */
export interface SeedInput {
  instanceId: string;
  hostname: string;
  sshAuthorizedKeys?: string[];
  /** Extra user-data (cloud-config) keys, e.g. the first-boot install used as a comparison. */
  extraUserData?: string;
}

const sshKeyPattern = /^(ssh-(rsa|ed25519|dss)|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com) [A-Za-z0-9+/=]+( [^\n]*)?$/;

export function seedFiles(input: SeedInput): { 'meta-data': string; 'user-data': string } {
  for (const [i, k] of (input.sshAuthorizedKeys ?? []).entries()) if (!sshKeyPattern.test(k)) throw new ValidationError(`sshAuthorizedKeys[${i}]`, 'not an OpenSSH public key');
  const keys = input.sshAuthorizedKeys?.length ? `ssh_authorized_keys:\n${input.sshAuthorizedKeys.map((k) => `  - ${JSON.stringify(k)}`).join('\n')}\n` : '';
  return {
    'meta-data': `instance-id: ${JSON.stringify(input.instanceId)}\nlocal-hostname: ${JSON.stringify(input.hostname)}\n`,
    'user-data': `#cloud-config\nhostname: ${JSON.stringify(input.hostname)}\n${keys}${input.extraUserData ?? ''}`,
  };
}

export async function writeSeed(dir: string, input: SeedInput): Promise<{ dir: string; iso?: string }> {
  await mkdir(dir, { recursive: true });
  const files = seedFiles(input);
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
  if (!(await hasCommand('genisoimage'))) return { dir };
  const iso = `${dir}.iso`;
  await run('genisoimage', ['-quiet', '-output', iso, '-volid', 'cidata', '-joliet', '-rock', join(dir, 'user-data'), join(dir, 'meta-data')]);
  return { dir, iso };
}
