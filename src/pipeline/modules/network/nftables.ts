import type { UsageVectorNetwork } from '../../../contracts/usage-vector.js';

/**
 * An nftables ruleset that accepts only the predicted inbound ports (plus SSH when the policy
 * keeps it), established traffic, loopback and ICMP; everything else inbound is dropped.
 */
export function nftablesRuleset(network: UsageVectorNetwork, options: { keepSsh: boolean; sshPort: number }): string {
  const tcp = new Set<number>();
  const udp = new Set<number>();
  for (const p of network.inbound) (p.protocol === 'udp' ? udp : tcp).add(p.port);
  if (options.keepSsh) tcp.add(options.sshPort);
  const set = (ports: Set<number>): string => [...ports].sort((a, b) => a - b).join(', ');
  return `#!/usr/sbin/nft -f
# Written by Prescient (network module): inbound open only for the predicted ports.
flush ruleset

table inet filter {
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		ct state invalid drop
		iif "lo" accept
		meta l4proto { icmp, ipv6-icmp } accept
${tcp.size ? `\t\ttcp dport { ${set(tcp)} } accept\n` : ''}${udp.size ? `\t\tudp dport { ${set(udp)} } accept\n` : ''}		udp sport 67 udp dport 68 accept
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
	}
	chain output {
		type filter hook output priority filter; policy accept;
	}
}
`;
}
