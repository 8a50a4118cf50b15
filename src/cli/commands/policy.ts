import { isIP } from 'node:net';
import type { Command } from 'commander';
import { paths } from '../../core/config.js';
import { ValidationError } from '../../core/errors.js';
import { loadPolicy, parsePolicy, policyFile, savePolicy, type Policy } from '../../policy/policy.js';
import { policyViolations } from '../../policy/vector-policy.js';
import { parseUsageVector } from '../../usage-vector/validate.js';
import { emit, table } from '../output.js';
import type { CommandRegistration } from './command-registration.js';
import { readJsonInput } from '../read-input.js';

/** The lists `policy add|rm` edit, and how one command-line value becomes an entry of each. */
const lists = {
  'deny-packages': { describe: 'packages never installed (NAME)', get: (p: Policy) => p.packages.deny, set: (p: Policy, v: string[]) => ({ ...p, packages: { deny: v } }), parse: (s: string) => s, key: (v: unknown) => String(v) },
  inbound: {
    describe: 'inbound ports allowed without a predicted service (PORT or PORT/tcp|udp)',
    get: (p: Policy) => p.inbound.allow,
    set: (p: Policy, v: Policy['inbound']['allow']) => ({ ...p, inbound: { allow: v } }),
    parse: (s: string) => {
      const m = /^(\d{1,5})(?:\/(tcp|udp))?$/.exec(s);
      if (!m) throw new ValidationError('inbound', `PORT or PORT/tcp|udp, got ${JSON.stringify(s)}`);
      return { port: Number(m[1]), protocol: (m[2] ?? 'tcp') as 'tcp' | 'udp' };
    },
    key: (v: { port: number; protocol: string }) => `${v.port}/${v.protocol}`,
  },
  outbound: {
    describe: 'outbound destinations a vector may name (HOST, *.DOMAIN, IP, CIDR, each with an optional :PORT; [IPv6]:PORT)',
    get: (p: Policy) => p.outbound.allow,
    set: (p: Policy, v: Policy['outbound']['allow']) => ({ ...p, outbound: { allow: v } }),
    parse: (s: string) => {
      const bracket = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(s);
      if (bracket) return { host: bracket[1]!, ...(bracket[2] ? { port: Number(bracket[2]) } : {}) };
      const m = /^([^:]+):(\d{1,5})$/.exec(s);
      if (m && isIP(m[1]!.split('/')[0]!) !== 6) return { host: m[1]!, port: Number(m[2]) };
      return { host: s };
    },
    key: (v: { host: string; port?: number | undefined }) => `${v.host.toLowerCase()}${v.port ? `:${v.port}` : ''}`,
  },
  bases: { describe: 'bases clients may request (NAME)', get: (p: Policy) => p.bases.allow, set: (p: Policy, v: string[]) => ({ ...p, bases: { allow: v } }), parse: (s: string) => s, key: (v: unknown) => String(v) },
} as const;
type ListName = keyof typeof lists;
const listNames = Object.keys(lists) as ListName[];

function listOf(name: string): (typeof lists)[ListName] {
  if (!(listNames as string[]).includes(name)) throw new ValidationError('list', `one of ${listNames.join(', ')}`);
  return lists[name as ListName];
}

/** Add or remove values of one list, then validate the whole policy before it is written (errors name the field). */
async function edit(listName: string, values: string[], op: 'add' | 'rm'): Promise<Policy> {
  const list = listOf(listName) as { get: (p: Policy) => unknown[]; set: (p: Policy, v: unknown[]) => Policy; parse: (s: string) => unknown; key: (v: never) => string };
  const file = policyFile(paths());
  const policy = await loadPolicy(file);
  // One entry per key, also when a value is given twice (add is idempotent).
  const parsed = [...new Map(values.map((v) => list.parse(v)).map((v) => [list.key(v as never), v] as const)).values()];
  const keys = new Set(parsed.map((v) => list.key(v as never)));
  const current = list.get(policy);
  const next = op === 'add' ? [...current.filter((v) => !keys.has(list.key(v as never))), ...parsed] : current.filter((v) => !keys.has(list.key(v as never)));
  const updated = parsePolicy(list.set(policy, next));
  await savePolicy(file, updated);
  return updated;
}

function describePolicy(p: Policy): string {
  const ports = p.inbound.allow.map((a) => `${a.port}/${a.protocol}`);
  const out = p.outbound.allow.map((a) => (a.port ? `${isIP(a.host.split('/')[0]!) === 6 ? `[${a.host}]` : a.host}:${a.port}` : a.host));
  return table(
    [
      ['datasets', p.datasets.length ? p.datasets.map((d) => d.name).join(', ') : '(none: no host data goes into an image)'],
      ['deny-packages', p.packages.deny.join(', ') || '(none)'],
      ['inbound', ports.length ? `${ports.join(', ')} (and the known ports of predicted services)` : '(only the known ports of predicted services)'],
      ['outbound', out.join(', ') || '(none: a vector may name no outbound destination or proxy)'],
      ['bases', p.bases.allow.join(', ') || '(none)'],
    ],
    ['LIST', 'ALLOWED'],
  );
}

export const policyCommand: CommandRegistration = (program) => {
  const policy = program
    .command('policy')
    .description('the admin policy: what a usage vector may contain (datasets, packages, ports, destinations) and which bases clients may ask for')
    .addHelpText(
      'after',
      `
Telemetry describes, it never commands: a predicted vector gets only what this policy allows,
and a vector that names anything else is refused at planning, naming the field. A new home
allows no dataset, no extra port, no outbound destination, and the built-in debian-12 base.
Kept in <home>/policy.json; the dataset catalogue is edited with \`prescient datasets\`.

Lists: ${listNames.map((n) => `${n} — ${lists[n].describe}`).join('; ')}.

Examples:
  prescient policy show --json
  prescient policy add inbound 8080/tcp 53/udp
  prescient policy add outbound deb.debian.org:443 '*.internal.example' 10.0.0.0/8
  prescient policy add deny-packages telnetd
  prescient policy rm bases debian-12
  prescient policy check examples/vectors/web-db.json`,
    );

  policy
    .command('show')
    .description('print the policy in force (the safe default when there is no policy.json)')
    .action(async (_opts: unknown, command: Command) => {
      const file = policyFile(paths());
      const p = await loadPolicy(file);
      emit(command, p, (v) => `${file}\n${describePolicy(v)}`);
    });

  for (const [op, description] of [['add', 'add values to one list of the policy'], ['rm', 'remove values from one list of the policy']] as const) {
    policy
      .command(op)
      .description(description)
      .argument('<list>', listNames.join(' | '))
      .argument('<values...>', "entries of that list (their forms: 'prescient policy --help', Lists)")
      .action(async (list: string, values: string[], _opts: unknown, command: Command) => {
        emit(command, await edit(list, values, op), describePolicy);
      });
  }

  policy
    .command('set')
    .description('replace the whole policy with a JSON file (validated first; errors name the field)')
    .argument('<file>', 'a policy JSON file, or - for stdin')
    .action(async (source: string, _opts: unknown, command: Command) => {
      const p = parsePolicy(await readJsonInput(source, '<file>'), source);
      await savePolicy(policyFile(paths()), p);
      emit(command, p, describePolicy);
    });

  policy
    .command('check')
    .description('check a usage vector against the policy: every field outside it, named (exit 2 if any)')
    .argument('<vector>', 'a usage vector (JSON file, or - for stdin)')
    .action(async (file: string, _opts: unknown, command: Command) => {
      const raw = await readJsonInput(file, '<vector>');
      const violations = policyViolations(parseUsageVector(raw), await loadPolicy(policyFile(paths())));
      emit(command, { ok: violations.length === 0, violations }, (v) => (v.ok ? `${file}: within the policy` : v.violations.map((x) => `${x.field}: ${x.message}`).join('\n')));
      if (violations.length) process.exitCode = 2;
    });
};
