import { Option, type Command } from 'commander';
import { ValidationError } from '../core/errors.js';

/** The anonymisation flags shared by every command that takes telemetry in. */
export function addAnonymisationOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--ipv4-prefix <bits>', 'keep IPv4 addresses only as this prefix (0 drops them)').default('24'))
    .addOption(new Option('--ipv6-prefix <bits>', 'keep IPv6 addresses only as this prefix (0 drops them)').default('48'));
}

export function anonymisationOptions(opts: { ipv4Prefix?: string; ipv6Prefix?: string }): { ipv4PrefixBits: number; ipv6PrefixBits: number } {
  return { ipv4PrefixBits: bits('--ipv4-prefix', opts.ipv4Prefix ?? '24', 32), ipv6PrefixBits: bits('--ipv6-prefix', opts.ipv6Prefix ?? '48', 128) };
}

function bits(flag: string, value: string, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > max) throw new ValidationError(flag, `expected an integer from 0 to ${max}`);
  return n;
}
