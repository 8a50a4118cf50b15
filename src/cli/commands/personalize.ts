import { openPrescient } from '../../app/open-prescient.js';
import { readFile, stat, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { paths } from '../../core/config.js';
import { ValidationError } from '../../core/errors.js';
import type { BaseImage } from '../../image/bases/build.js';
import { findBase, isBasePath } from '../../image/bases/catalog.js';
import { importBase } from '../../image/bases/import.js';
import { describeChange } from '../../pipeline/change.js';
import { builtinModules } from '../../pipeline/modules/index.js';
import { seedLoginSchema, type SeedLogin } from '../../pipeline/spec/cloud-init.js';
import type { MachineCredentials } from '../../pipeline/spec/machine-seed.js';
import { defaultLoginUser, parsePublicKey, sshKeyStoreAt } from '../../login/ssh-key-store.js';
import { clientIdSchema } from '../../contracts/identifiers.js';
import { personalize, planPersonalization, type PersonalizeReport } from '../../pipeline/personalize.js';
import { versionConfig } from '../../pipeline/version-config.js';
import { assemblePipeline, type PipelinePlan } from '../../pipeline/plan.js';
import { loadPolicy, policyFile } from '../../policy/policy.js';
import { expectationsFromPlan } from '../../vm/expectations.js';
import { verifyImage, type VerifyReport } from '../../vm/verify.js';
import { describeVerify } from './verify.js';
import { completeUsageVector } from '../../usage-vector/hand-vector.js';
import { addHandSpecOptions, handSpecFromFlags, hasHandSpec, type HandSpecFlags } from '../hand-spec-options.js';
import { plural } from '../plural.js';
import { readInput, readJsonInput, stdinPath } from '../read-input.js';
import { emit, formatBytes, globalOptions, table } from '../output.js';
import { createProgress } from '../progress.js';
import { cliSignal } from '../signal.js';
import type { CommandRegistration } from './command-registration.js';

interface Opts extends HandSpecFlags {
  register?: string;
  verify?: boolean;
  base: string;
  vector?: string;
  out?: string;
  plan?: boolean;
  modules?: string;
  options?: string;
  flatten: boolean;
  backend?: string;
  sshKey?: string[];
  user?: string;
}

/** --ssh-key/--user for hand use; else the keys the client registered (prescient ssh-keys add). */
async function loginFor(opts: Opts, clientId: string | undefined): Promise<SeedLogin | undefined> {
  if (opts.sshKey?.length) {
    const keys: string[] = [];
    for (const [i, f] of opts.sshKey.entries()) {
      const text = (await readInput(f, `--ssh-key[${i}]`)).toString('utf8');
      keys.push(parsePublicKey(text, `--ssh-key ${f === stdinPath ? '(standard input)' : f}`));
    }
    const login = seedLoginSchema.safeParse({ user: opts.user ?? defaultLoginUser, sshAuthorizedKeys: keys });
    if (!login.success) throw new ValidationError(login.error.issues[0]!.path[0] === 'user' ? '--user' : '--ssh-key', login.error.issues[0]!.message);
    return login.data;
  }
  if (opts.user) throw new ValidationError('--user', 'needs --ssh-key (a user nobody can log in as is no use)');
  return clientId && clientIdSchema.safeParse(clientId).success ? sshKeyStoreAt(paths().home).login(clientId) : undefined;
}

/**
 * The base the user named. A path to an image that is not a base yet is imported first
 * (content-keyed, so a second run finds it): the help promises that paths work.
 */
async function resolveBase(basesDir: string, runtimeDir: string, ref: string, quiet: boolean | undefined): Promise<Omit<BaseImage, 'cached'>> {
  try {
    return await findBase(basesDir, ref);
  } catch (e) {
    if (!isBasePath(ref) || !(await stat(ref).then((s) => s.isFile(), () => false))) throw e;
    const progress = createProgress({ quiet });
    progress.step(`importing ${ref} as a base`);
    const imported = await importBase(ref, { basesDir, runtimeDir, signal: cliSignal(), progress });
    progress.done(`${imported.name}-${imported.key}`);
    return imported;
  }
}

function human(r: PersonalizeReport): string {
  const rows = r.modules.map((m) => [m.id, m.outcome, `${(m.ms / 1000).toFixed(2)} s`, m.changes.length, m.layerBytes !== undefined ? formatBytes(m.layerBytes) : '-', m.notes.join('; ')]);
  return [
    table(rows, ['MODULE', 'LAYER', 'TIME', 'CHANGES', 'LAYER SIZE', 'NOTES']),
    '',
    `VM spec:   ${r.spec.vcpus} vCPUs, ${r.spec.memoryMiB} MiB, ${r.spec.diskGiB} GiB disk, ${r.spec.swapMiB} MiB swap`,
    `disk:      ${r.outputs.disk}`,
    `libvirt:   ${r.outputs.domainXml}`,
    `glance:    ${r.outputs.glance}`,
    `cloud-init ${r.outputs.seedIso ?? r.outputs.seed}  (host ${r.machine.hostname}, ${r.machine.user ? `user ${r.machine.user}` : 'no login user: pass --ssh-key or register one with ssh-keys add'})`,
    `secrets:   ${r.outputs.credentials} (mode 0600: ${r.machine.protectedServices.join(', ') || 'no protected service'})`,
    `report:    ${r.outputs.report}`,
    `total:     ${(r.totalMs / 1000).toFixed(2)} s`,
    ...r.warnings.map((w) => `warning:   ${w}`),
  ].join('\n');
}

export const personalizeCommand: CommandRegistration = (program) => {
  const command = program
    .command('personalize')
    .description('turn a base image into a personalised one for a usage vector: one cached qcow2 layer per module')
    .requiredOption('--base <base>', "a base image: its name ('debian-12'), name-key, or the path of an image (imported as a base if it is not one yet; see 'prescient base ls')")
    .option('--vector <file>', 'the usage vector (JSON, or - for stdin); fields a model fills may be left out (see prescient vector new); checked before anything is touched')
    .option('--out <dir>', 'output folder: disk.qcow2, domain.xml, glance-properties.json, cloud-init seed, plan and report')
    .option('--plan', 'print the changes each module would make, and touch no image')
    .option('--modules <ids>', `only these modules, comma-separated (${builtinModules.map((m) => m.id).join(',')})`)
    .option('--options <file>', 'module options as JSON: {"software": {"threshold": 0.6}, "network": {"keepSsh": true}}')
    .option('--flatten', 'write disk.qcow2 as one standalone image, readable by libvirt\'s QEMU user', true)
    .option('--no-flatten', 'write disk.qcow2 as a thin overlay on the cached layers (warns when libvirt could not read the chain)')
    .option('--ssh-key <file...>', 'an SSH public key the machine\'s user logs in with, or - for stdin (default: the client\'s registered keys)')
    .option('--user <name>', `the login name created at first boot, with --ssh-key (default: ${defaultLoginUser})`)
    .option('--backend <name>', 'how to open images: auto, mount or guestfs', 'auto')
    .option('--register <repository>', "store the result as a new version in the local registry (e.g. clients/acme), tagged latest")
    .option('--verify', 'boot the result under QEMU and check it (see prescient verify); the result goes into report.json');
  addHandSpecOptions(command)
    .addHelpText(
      'after',
      `
Modules run in this order, each in its own layer: ${builtinModules.map((m) => `${m.id} (${m.description})`).join('; ')}.
A layer is reused whenever its parent, module version and planned changes are the same, so a
second run with the same vector builds nothing, and a new dataset rebuilds only the data layer.

Instead of a vector file, say what you want (fields a model would fill get defaults; with
--vector too, these flags override the file's fields):
  prescient personalize --base debian-12 --packages redis-server,git --vcpus 2 --memory 4GiB \
    --disk 10GiB --ports 22,6379 --service redis --plan

Examples:
  prescient personalize --base debian-12 --vector examples/vectors/web-db.json --plan
  prescient personalize --base /var/lib/images/debian-12-genericcloud-amd64.qcow2 --vector web-db.json --plan
  prescient predict --client c-1 --json | prescient personalize --base debian-12 --vector - --out out/c-1
  prescient personalize --base debian-12 --vector web-db.json --out out/web-db
  prescient --json personalize --base debian-12 --vector web-db.json --out out/web-db --flatten`,
    )
    .action(async (opts: Opts, cmd: Command) => {
      const p = paths();
      // Checked before --plan returns: a dry run that passes must not be refused when run for real.
      if (opts.backend && !['auto', 'mount', 'guestfs'].includes(opts.backend)) throw new ValidationError('--backend', 'must be auto, mount or guestfs');
      // Standard input can be read once: one `-` among --vector, --options and --ssh-key.
      const stdinUses = [opts.vector, opts.options, ...(opts.sshKey ?? [])].filter((f) => f === stdinPath).length;
      if (stdinUses > 1) throw new ValidationError(opts.sshKey?.includes(stdinPath) ? '--ssh-key' : '--options', 'standard input (-) can be read once: give the other inputs as files');
      if (!opts.vector && !hasHandSpec(opts)) throw new ValidationError('--vector', 'give a usage vector file (or - for stdin), or describe one with --packages, --vcpus, --memory, --disk, --ports, --service');
      const fromFile = opts.vector ? await readJsonInput(opts.vector, '--vector') : {};
      if (typeof fromFile !== 'object' || fromFile === null || Array.isArray(fromFile)) throw new ValidationError('--vector', 'must be a JSON object (a usage vector)');
      const vector = completeUsageVector(handSpecFromFlags(opts, fromFile as Record<string, unknown>));
      const login = await loginFor(opts, vector.subject.clientId);
      const moduleOptions = opts.options ? await readJsonInput(opts.options, '--options') : {};
      if (typeof moduleOptions !== 'object' || moduleOptions === null || Array.isArray(moduleOptions)) throw new ValidationError('--options', 'must be a JSON object keyed by module id');
      const only = opts.modules?.split(',').map((s) => s.trim()).filter(Boolean);
      const pipeline = assemblePipeline({ options: moduleOptions as Record<string, unknown>, ...(only ? { only } : {}) });
      const base = await resolveBase(p.bases, p.runtime, opts.base, globalOptions(cmd).quiet);
      // A hand-made vector is held to the admin policy too: datasets from the catalogue, allowed ports and destinations.
      const policy = await loadPolicy(policyFile(p));
      if (opts.plan) {
        const plan = await planPersonalization({ base, vector, pipeline, policy, signal: cliSignal() });
        emit(cmd, plan, (pl) =>
          [
            ...pl.modules.flatMap((m) => [`${m.id} v${m.version}:`, ...(m.changes.length ? m.changes.map((c) => `  ${describeChange(c)}`) : ['  (no changes)']), ...m.notes.map((n) => (n.startsWith('warning: ') ? `  ${n}` : `  note: ${n}`))]),
            `VM spec: ${pl.spec.vcpus} vCPUs, ${pl.spec.memoryMiB} MiB, ${pl.spec.diskGiB} GiB disk, ${pl.spec.swapMiB} MiB swap`,
          ].join('\n'),
        );
        return;
      }
      if (!opts.out) throw new ValidationError('--out', 'required unless --plan');
      const progress = createProgress({ quiet: globalOptions(cmd).quiet });
      try {
        const report = await personalize({
          base,
          vector,
          pipeline,
          outDir: opts.out,
          layersDir: p.layers,
          runtimeDir: p.runtime,
          packageCacheDir: p.packageCache,
          policy,
          backend: (opts.backend ?? 'auto') as 'auto',
          flatten: opts.flatten,
          ...(login ? { login } : {}),
          signal: cliSignal(),
          onEvent: (e) => {
            if (e.type === 'module-start') progress.step(`${e.module} (${plural(e.changes, 'change')})`);
            else if (e.type === 'change') progress.detail(e.description.slice(0, 80));
            else if (e.type === 'module-done') progress.done(e.outcome);
          },
        });
        if (opts.verify) {
          progress.step('verify: boot and check the image');
          const verification = await verifyImage({
            image: report.outputs.disk!,
            expectations: expectationsFromPlan(JSON.parse(await readFile(report.outputs.plan, 'utf8')) as PipelinePlan),
            runtimeDir: p.runtime,
            ...(report.outputs.seedIso ? { seedIso: report.outputs.seedIso } : {}),
            credentials: JSON.parse(await readFile(report.outputs.credentials, 'utf8')) as MachineCredentials,
            signal: cliSignal(),
            onProgress: (t) => progress.detail(t),
          });
          progress.done(verification.ok ? 'passed' : 'FAILED');
          report.verification = verification;
          await writeFile(report.outputs.report, `${JSON.stringify(report, null, 2)}\n`);
          if (!verification.ok) process.exitCode = 1;
        }
        if (opts.register && report.verification?.ok !== false) {
          progress.step(`register in ${opts.register}`);
          const registry = await (await openPrescient()).registry();
          const plan = JSON.parse(await readFile(report.outputs.plan, 'utf8')) as PipelinePlan;
          const registered = await registry.register({
            repository: opts.register,
            layers: report.layers.map((path) => ({ path })),
            config: versionConfig({ vector, plan, facts: base.facts, report }),
            tags: ['latest'],
            signal: cliSignal(),
          });
          progress.done(`${registered.repository}@${registered.digest} (${registered.tags.join(', ')})`);
          report.registered = { repository: registered.repository, digest: registered.digest, tags: registered.tags };
          await writeFile(report.outputs.report, `${JSON.stringify(report, null, 2)}\n`);
        }
        emit(cmd, report, (r) =>
          [human(r), ...(r.registered ? [`registered: ${r.registered.repository}@${r.registered.digest} (${r.registered.tags.join(', ')})`] : []), ...(r.verification ? ['', describeVerify(r.verification as VerifyReport)] : [])].join('\n'),
        );
      } catch (e) {
        progress.fail((e as Error).message.split('\n')[0] ?? '');
        throw e;
      }
    });
};
