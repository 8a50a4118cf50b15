import { access, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { paths } from '../../core/config.js';
import { ValidationError } from '../../core/errors.js';
import type { PipelinePlan } from '../../pipeline/plan.js';
import { completeUsageVector } from '../../usage-vector/hand-vector.js';
import { assertInputFile, readJsonInput } from '../read-input.js';
import { bootOnly, expectationsFromPlan, expectationsFromVector, type Expectations } from '../../vm/expectations.js';
import { verifyImage, type VerifyReport } from '../../vm/verify.js';
import { emit, globalOptions, table } from '../output.js';
import { createProgress } from '../progress.js';
import { cliSignal } from '../signal.js';
import type { CommandRegistration } from './index.js';

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

export const verifyCommand: CommandRegistration = (program) => {
  program
    .command('verify')
    .argument('<image>', 'a qcow2 image, e.g. the disk.qcow2 that personalize wrote')
    .option('--vector <file>', 'check against this usage vector, or - for stdin (default: the plan.json beside the image)')
    .option('--timeout <seconds>', 'give up when the guest has not reported by then', '900')
    .description('boot an image under QEMU and check what was prepared: packages, services, firewall, resources, HTTP from the host')
    .addHelpText(
      'after',
      `
The image is booted through a throwaway overlay that adds a one-shot probe unit; the image itself
is never changed. KVM is used when it really works on this host, software emulation otherwise.
The VM is always stopped and its files removed, also on failure or Ctrl-C. Exit status 1 when a
check fails; each failed check says why.

Examples:
  prescient verify out/web-db/disk.qcow2
  prescient --json verify base.qcow2 --vector web-db.json`,
    )
    .action(async (image: string, opts: { vector?: string; timeout: string }, cmd: Command) => {
      const timeout = Number(opts.timeout);
      if (!Number.isFinite(timeout) || timeout <= 0) throw new ValidationError('--timeout', 'must be a positive number of seconds');
      await assertInputFile(image, '<image>');
      const { expectations } = await expectationsFor(image, opts.vector);
      const progress = createProgress({ quiet: globalOptions(cmd).quiet });
      const report = await verifyImage({ image, expectations, runtimeDir: paths().runtime, timeoutMs: timeout * 1000, signal: cliSignal(), onProgress: (t) => progress.step(t) });
      progress.done();
      emit(cmd, report, describeVerify);
      if (!report.ok) process.exitCode = 1;
    });
};
