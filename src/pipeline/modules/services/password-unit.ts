import type { Change } from '../../change.js';
import type { ServiceTuner } from './tuner.js';
import { seedSecretsDir } from './tuner.js';

/** Where the seed leaves the password of service `id` (`mariadb`, `postgresql`) for its first-boot unit. */
export function seedPasswordFile(id: string): string {
  return `${seedSecretsDir}/${id}.password`;
}

/**
 * A database's account protected with the per-machine password: the seed writes it (root only),
 * and the first-boot unit of `firstBootPasswordUnit` applies it.
 */
export function seedPasswordSecret(id: string, account: string): NonNullable<ServiceTuner['secret']> {
  return { account, seedFiles: ({ password }) => [{ path: seedPasswordFile(id), content: password, owner: 'root:root', permissions: '0600' }] };
}

/**
 * The unit that, at first boot, waits until the service answers (`ready`, up to 300 s) and then
 * gives its account the password the seed carries (`apply`, with the password in `$pw`). The
 * image carries the unit and its script, never the password: they sit in a layer two clients
 * share. `check` runs on `$pw` first (a password that must stand inside SQL quotes).
 */
export function firstBootPasswordUnit(input: { id: string; product: string; after: readonly string[]; wants: string; ready: string; check?: string; apply: string }): Change[] {
  const passwordFile = seedPasswordFile(input.id);
  const script = `/usr/local/sbin/prescient-${input.id}-password`;
  const unit = `prescient-${input.id}-password.service`;
  const body = `#!/bin/sh
# Written by Prescient (services module): applies the password this machine's seed carries.
set -eu
pw=$(cat ${passwordFile})
${input.check ? `${input.check}\n` : ''}i=0
until ${input.ready}; do i=$((i+1)); [ $i -lt 300 ] || exit 1; sleep 1; done
${input.apply}`;
  const unitFile = `[Unit]
Description=Prescient: the ${input.product} password from this machine's seed
After=${[...input.after, 'cloud-init.service'].join(' ')}
Wants=${input.wants}
ConditionPathExists=${passwordFile}

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=${script}

[Install]
WantedBy=multi-user.target
`;
  return [
    { kind: 'write-file', path: script, content: body, mode: 0o755 },
    { kind: 'write-file', path: `/etc/systemd/system/${unit}`, content: unitFile, mode: 0o644 },
    { kind: 'enable-service', unit },
  ];
}
