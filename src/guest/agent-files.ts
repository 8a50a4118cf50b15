import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The in-guest agent's files, kept as plain shell and systemd units under src/guest/files/ (so
 * they can be read, linted and run as they are) and read once when this module loads. From
 * dist/src/guest/ the folder is three levels up, then src/guest/files: the same folder either way.
 */
const dir = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../../../src/guest/files/' : './files/', import.meta.url));
const read = (name: string): string => readFileSync(`${dir}${name}`, 'utf8');

/** Where each file goes in the guest, and its mode. */
export const agentFiles = [
  { path: '/usr/lib/prescient-agent/collect', content: read('collect.sh'), mode: 0o755 },
  { path: '/usr/lib/prescient-agent/prepare', content: read('prepare.sh'), mode: 0o755 },
  { path: '/usr/lib/prescient-agent/counters.nft', content: read('counters.nft'), mode: 0o644 },
  { path: '/usr/lib/prescient-agent/command-not-found.bash', content: read('command-not-found.bash'), mode: 0o644 },
  { path: '/etc/profile.d/prescient-agent-command-not-found.sh', content: '# Prescient in-guest agent (opt-in)\n[ -n "${BASH_VERSION:-}" ] && . /usr/lib/prescient-agent/command-not-found.bash\n', mode: 0o644 },
  { path: '/etc/systemd/system/prescient-agent.service', content: read('prescient-agent.service'), mode: 0o644 },
  { path: '/etc/systemd/system/prescient-agent-counters.service', content: read('prescient-agent-counters.service'), mode: 0o644 },
  { path: '/etc/systemd/system/prescient-agent.timer', content: read('prescient-agent.timer'), mode: 0o644 },
  { path: '/usr/lib/sysusers.d/prescient-agent.conf', content: read('sysusers.conf'), mode: 0o644 },
] as const;

/**
 * Debian packages the agent runs on (besides the base's coreutils and bash): nothing else. curl
 * is only for an https:// server; http:// goes over bash's /dev/tcp.
 */
export const agentPackages = ['acct', 'curl', 'nftables'] as const;

/** Where the per-request seed puts the agent's server URL, credential, subject and image digest (root, 0600). */
export const agentEnvPath = '/etc/prescient/agent.env';
