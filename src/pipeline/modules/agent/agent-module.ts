import { z } from 'zod';
import { agentFiles, agentPackages } from '../../../guest/agent-files.js';
import type { Change } from '../../change.js';
import { defineModule } from '../../define-module.js';

export const agentOptionsSchema = z
  .strictObject({
    enabled: z.boolean().default(false).describe('carry the in-guest agent (only for a client that granted in-guest consent)'),
  })
  .default({ enabled: false });

export type AgentOptions = z.infer<typeof agentOptionsSchema>;

/**
 * The in-guest agent, opt-in: shell, Debian packages and systemd units only (src/guest/files/).
 * The image carries no server URL, credential or subject — those come with the per-request seed
 * (src/guest/agent-seed.ts) — so an image with the agent is still shareable between clients, and
 * the agent stays idle until a seed names who it reports for.
 */
export const agentModule = defineModule<AgentOptions>({
  id: 'agent',
  version: 3,
  description: 'the opt-in in-guest agent: a report a minute of resources, launches, ports, packages, dataset reads',
  optionsSchema: agentOptionsSchema,
  plan({ facts, options }) {
    if (!options.enabled) return { changes: [], notes: ['no in-guest agent: the client has not granted in-guest consent'] };
    const have = new Set(facts.packages.map((p) => p.name));
    const missing = agentPackages.filter((p) => !have.has(p));
    const changes: Change[] = [];
    if (missing.length > 0) changes.push({ kind: 'install-packages', packages: [...missing] });
    for (const f of agentFiles) changes.push({ kind: 'write-file', path: f.path, content: f.content, mode: f.mode });
    changes.push({ kind: 'run-command', argv: ['systemd-sysusers', '/usr/lib/sysusers.d/prescient-agent.conf'] });
    // Interactive shells that are not login shells read bash.bashrc, not profile.d; appended last,
    // so it wins over Debian's own handler defined earlier in that file.
    changes.push({ kind: 'ensure-line', path: '/etc/bash.bashrc', line: '[ -r /usr/lib/prescient-agent/command-not-found.bash ] && . /usr/lib/prescient-agent/command-not-found.bash' });
    changes.push({ kind: 'enable-service', unit: 'acct.service' });
    changes.push({ kind: 'enable-service', unit: 'prescient-agent-counters.service' });
    changes.push({ kind: 'enable-service', unit: 'prescient-agent.timer' });
    // Last: the state the first boot starts from (dpkg.log's size now, the not-found log, the
    // datasets' read marks), so that what the user does before the first report still counts.
    changes.push({ kind: 'run-command', argv: ['/usr/lib/prescient-agent/prepare', 'build'] });
    return { changes, notes: ['in-guest agent: reports every minute once a seed gives it a server and a credential'] };
  },
});
