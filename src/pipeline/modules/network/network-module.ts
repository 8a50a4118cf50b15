import { z } from 'zod';
import type { Change } from '../../change.js';
import { defineModule } from '../../define-module.js';
import { answeredTcpPorts } from '../services/services-module.js';
import { nftablesRuleset } from './nftables.js';

export const networkOptionsSchema = z
  .strictObject({
    keepSsh: z.boolean().default(true).describe('keep SSH reachable whatever the vector predicts'),
    sshPort: z.number().int().min(1).max(65535).default(22),
  })
  .default({ keepSsh: true, sshPort: 22 });

export type NetworkOptions = z.infer<typeof networkOptionsSchema>;

/** KB/s beyond which the network is "busy" and gets larger socket buffers. */
const busyKBps = 10 * 1024;

/**
 * Network optimisation: the firewall (nftables), proxy settings for apt and the environment,
 * and sysctl tuning for the predicted traffic and connection counts.
 */
export const networkModule = defineModule<NetworkOptions>({
  id: 'network',
  version: 2,
  description: 'nftables firewall for the predicted ports, proxy for apt and the environment, sysctl tuning',
  optionsSchema: networkOptionsSchema,
  packages: () => ['nftables'],
  plan({ vector, facts, options }) {
    const n = vector.network;
    const changes: Change[] = [];
    const notes: string[] = [];
    // A port opened with nothing behind it invites scans and hides a broken prediction: only
    // ports a prepared service (or SSH) answers are opened, and --plan says which were not.
    const answered = new Set(answeredTcpPorts(facts));
    const inbound = n.inbound.filter((p) => {
      const ok = p.protocol === 'tcp' && answered.has(p.port);
      if (!ok && !(options.keepSsh && p.protocol === 'tcp' && p.port === options.sshPort)) notes.push(`warning: port ${p.port}/${p.protocol} is predicted inbound but no prepared service answers it: left closed`);
      return ok || (options.keepSsh && p.protocol === 'tcp' && p.port === options.sshPort);
    });
    if (!facts.packages.some((p) => p.name === 'nftables')) changes.push({ kind: 'install-packages', packages: ['nftables'] });
    changes.push({ kind: 'write-file', path: '/etc/nftables.conf', content: nftablesRuleset({ ...n, inbound }, options), mode: 0o755 });
    changes.push({ kind: 'enable-service', unit: 'nftables.service' });

    if (n.proxy) {
      const noProxy = ['localhost', '127.0.0.1', '::1', ...(n.proxy.noProxy ?? [])].join(',');
      changes.push({
        kind: 'write-file',
        path: '/etc/apt/apt.conf.d/95prescient-proxy',
        content: `// Written by Prescient (network module)\nAcquire::http::Proxy "${n.proxy.url}";\nAcquire::https::Proxy "${n.proxy.url}";\n`,
      });
      changes.push({
        kind: 'write-file',
        path: '/etc/profile.d/prescient-proxy.sh',
        content: `# Written by Prescient (network module)\nexport http_proxy="${n.proxy.url}" https_proxy="${n.proxy.url}" no_proxy="${noProxy}"\nexport HTTP_PROXY="$http_proxy" HTTPS_PROXY="$https_proxy" NO_PROXY="$no_proxy"\n`,
      });
      for (const line of [`http_proxy=${n.proxy.url}`, `https_proxy=${n.proxy.url}`, `no_proxy=${noProxy}`]) {
        changes.push({ kind: 'ensure-line', path: '/etc/environment', line });
      }
    }

    const connections = vector.services.reduce((sum, s) => sum + s.concurrency, 0);
    const busy = vector.resources.networkInKBps + vector.resources.networkOutKBps > busyKBps;
    const sysctl = [
      '# Written by Prescient (network module) for the predicted network profile.',
      `net.core.somaxconn = ${Math.max(4096, connections * 4)}`,
      `net.ipv4.tcp_max_syn_backlog = ${Math.max(4096, connections * 4)}`,
      'net.ipv4.tcp_fin_timeout = 15',
      'net.ipv4.tcp_tw_reuse = 1',
      `net.ipv4.ip_local_port_range = ${n.outbound.length > 10 || connections > 1000 ? '10240 65535' : '32768 60999'}`,
      ...(busy
        ? ['net.core.rmem_max = 16777216', 'net.core.wmem_max = 16777216', 'net.ipv4.tcp_rmem = 4096 87380 16777216', 'net.ipv4.tcp_wmem = 4096 65536 16777216']
        : []),
    ];
    changes.push({ kind: 'write-file', path: '/etc/sysctl.d/90-prescient-network.conf', content: `${sysctl.join('\n')}\n` });
    return { changes, notes };
  },
});
