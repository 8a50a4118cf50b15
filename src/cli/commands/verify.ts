import { access, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { paths } from '../../core/config.js';
import { ValidationError } from '../../core/errors.js';
import type { PipelinePlan } from '../../pipeline/plan.js';
import { completeUsageVector } from '../../usage-vector/hand-vector.js';
import { assertInputFile, readJsonInput } from '../read-input.js';
import { bootOnly, expectationsFromPlan, expectationsFromVector, type Expectations } from '../../vm/expectations.js';
import { verifyImage, type VerifyOptions, type VerifyReport } from '../../vm/verify.js';
import type { MachineCredentials } from '../../pipeline/spec/machine-seed.js';
import { emit, globalOptions, table } from '../output.js';
import { createProgress } from '../progress.js';
import { cliSignal } from '../signal.js';
import type { CommandRegistration } from './command-registration.js';

export function describeVerify(r: VerifyReport): string {
  return [
    table(r.checks.map((c) => [c.ok ? '✓' : '✗', c.name, c.detail])),
    '',
    `${r.ok ? 'PASSED' : 'FAILED'}: ${r.checks.filter((c) => !c.ok).map((c) => c.name).join(', ') || 'every check'}${r.ok ? '' : ' failed'} (${r.accel === 'kvm' ? 'KVM' : 'software emulation'}${r.readyMs !== undefined ? `, ready in ${(r.readyMs / 1000).toFixed(1)} s` : ''})`,
  ].join('\n');
}

/** Expectations: from --vector, else from the plan.json a personalize run left beside the image. */
async function expectationsFor(image: string, vectorFile?: string): Promise<{ expectations: Expectations; from: string }> {
  if (vectorFile) {
    const vector = completeUsageVector(await readJsonInput(vectorFile, '--vector'));
    return { expectations: expectationsFromVector(vector), from: vectorFile };
  }
  const planFile = join(dirname(image), 'plan.json');
  if (await access(planFile).then(() => true, () => false)) {
    return { expectations: expectationsFromPlan(JSON.parse(await readFile(planFile, 'utf8')) as PipelinePlan), from: planFile };
  }
  return { expectations: bootOnly(), from: '(nothing: boot only)' };
}

const exists = (p: string): Promise<boolean> => access(p).then(() => true, () => false);

/** The seed, credentials and login: from the options, else what personalize left beside the image. */
async function machineFilesFor(image: string, opts: { seed?: string; credentials?: string; identity?: string; user?: string }): Promise<Pick<VerifyOptions, 'seedIso' | 'credentials' | 'login'>> {
  const seedIso = opts.seed ?? join(dirname(image), 'cloud-init.iso');
  if (opts.seed && !(await exists(opts.seed))) throw new ValidationError('--seed', `cannot read ${opts.seed}`);
  const credFile = opts.credentials ?? join(dirname(image), 'credentials.json');
  let credentials: MachineCredentials | undefined;
  if (await exists(credFile)) {
    try {
      credentials = JSON.parse(await readFile(credFile, 'utf8')) as MachineCredentials;
    } catch (e) {
      throw new ValidationError('--credentials', `${credFile}: ${(e as Error).message}`);
    }
  } else if (opts.credentials) throw new ValidationError('--credentials', `cannot read ${opts.credentials}`);
  let login: VerifyOptions['login'];
  if (opts.identity) {
    if (!(await exists(opts.identity))) throw new ValidationError('--identity', `cannot read ${opts.identity}`);
    const user = opts.user ?? credentials?.user;
    if (!user) throw new ValidationError('--user', 'no user to log in as: give --user, or the credentials.json personalize wrote');
    login = { user, identityFile: opts.identity };
  }
  return { ...((await exists(seedIso)) ? { seedIso } : {}), ...(credentials ? { credentials } : {}), ...(login ? { login } : {}) };
}

export const verifyCommand: CommandRegistration = (program) => {
  program
    .command('verify')
    .argument('<image>', 'a qcow2 image, e.g. the disk.qcow2 that personalize wrote')
    .option('--vector <file>', 'check against this usage vector, or - for stdin (default: the plan.json beside the image)')
    .option('--timeout <seconds>', 'give up when the guest has not reported by then', '900')
    .option('--seed <iso>', "the machine's cloud-init seed (default: cloud-init.iso beside the image)")
    .option('--credentials <file>', "the services' passwords (default: credentials.json beside the image)")
    .option('--identity <file>', 'an SSH private key: log in with it as the seed\'s user (or --user)')
    .option('--user <name>', 'the user to log in as (default: the one credentials.json names)')
    .description('boot an image under QEMU and use it as its user would: SSH login with the client\'s key, every opened port probed from the host (HTTP, Redis, PostgreSQL, MariaDB, memcached), packages, services, firewall, resources')
    .addHelpText(
      'after',
      `
The image is booted through a throwaway overlay that adds a one-shot probe unit; the image itself
is never changed. KVM is used when it really works on this host, software emulation otherwise.
The VM is always stopped and its files removed, also on failure or Ctrl-C. Exit status 1 when a
check fails; each failed check says why.

The machine boots with its seed (cloud-init.iso beside the image, or --seed), so its user, keys
and service passwords are the ones a user gets. Every port the firewall opens is forwarded from
127.0.0.1 and used: SSH login (with --identity), HTTP, Redis PING with its password, a query on
PostgreSQL (psql) and MariaDB, memcached's version. A failing service shows its own journal lines.

Examples:
  prescient verify out/web-db/disk.qcow2 --identity ~/.ssh/id_ed25519
  prescient --json verify base.qcow2 --vector web-db.json`,
    )
    .action(async (image: string, opts: { vector?: string; timeout: string; seed?: string; credentials?: string; identity?: string; user?: string }, cmd: Command) => {
      const timeout = Number(opts.timeout);
      if (!Number.isFinite(timeout) || timeout <= 0) throw new ValidationError('--timeout', 'must be a positive number of seconds');
      await assertInputFile(image, '<image>');
      const { expectations } = await expectationsFor(image, opts.vector);
      const machine = await machineFilesFor(image, opts);
      const progress = createProgress({ quiet: globalOptions(cmd).quiet });
      const report = await verifyImage({ image, expectations, runtimeDir: paths().runtime, timeoutMs: timeout * 1000, ...machine, signal: cliSignal(), onProgress: (t) => progress.step(t) });
      progress.done();
      emit(cmd, report, describeVerify);
      if (!report.ok) process.exitCode = 1;
    });
};
