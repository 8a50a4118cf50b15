import { BlockList, isIP } from 'node:net';
import type { Policy } from './policy.js';

interface Destination {
  host: string;
  port?: number | undefined;
}

function cidr(host: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const [address = '', bits] = host.split('/');
  const version = isIP(address);
  if (version === 0) return undefined;
  const max = version === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : Number(bits);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) return undefined;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** Does one allowlist entry cover this destination? A wider vector entry (a bigger CIDR, a wildcard, any port) is not covered by a narrower one. */
function covers(allow: Policy['outbound']['allow'][number], want: Destination): boolean {
  if (allow.port !== undefined && want.port !== allow.port) return false;
  const a = cidr(allow.host);
  const w = cidr(want.host);
  if (a || w) {
    if (!a || !w || a.family !== w.family || w.prefix < a.prefix) return false;
    const list = new BlockList();
    list.addSubnet(a.address, a.prefix, a.family);
    return list.check(w.address, w.family);
  }
  const host = want.host.toLowerCase();
  const pattern = allow.host.toLowerCase();
  if (pattern.startsWith('*.')) {
    const suffix = pattern.slice(1); // ".example.com"
    // `*.a.example.com` and `a.example.com` are under `*.example.com`; `example.com` itself is not.
    return (host.startsWith('*.') ? host.slice(1) : host).endsWith(suffix);
  }
  return host === pattern;
}

/** An outbound destination (a vector's `network.outbound` entry, or its proxy) is allowed only by the admin's allowlist. */
export function outboundAllowed(policy: Policy, want: Destination): boolean {
  return policy.outbound.allow.some((a) => covers(a, want));
}
